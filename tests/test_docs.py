"""The documentation keeps up with the code: every setting, secret and check code is documented
in docs/, the README stays a short front door, and every link and cited document exists."""

from __future__ import annotations

import ast
import io
import re
import tokenize
from dataclasses import MISSING, fields
from pathlib import Path

from pain_news.config.settings import SECRET_VARIABLES, SECTIONS
from tests.fixtures.core import ROOT

DOCS = ROOT / "docs"
README = ROOT / "README.md"
README_MAX_LINES = 300

# A check code is lower-case words joined by hyphens: `subject-long`, `source`.
CODE_SHAPE = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")
# Calls that make a finding: error("code", ...), warning("code", ...), Finding("error", "code", ...),
# and helpers named the same way (_error, add_warning, self.finding, ...).
FINDING_CALL = re.compile(r"_?(?:add_)?(?:error|warning|finding)", re.IGNORECASE)
SEVERITIES = {"error", "warning", "info", "notice"}
# Codes chosen at run time (a mapping, a loop) must sit in a module-level constant named *CODE*.
CODE_TABLE = re.compile(r".*CODE.*")


def _markdown_files() -> list[Path]:
    return [README, *sorted(DOCS.rglob("*.md"))]


def _table_row(text: str, cell: str) -> str | None:
    """The first markdown table row holding `cell` (in backticks)."""
    for line in text.splitlines():
        if line.startswith("|") and f"`{cell}`" in line:
            return line
    return None


def _shown_default(value: object) -> str:
    """How a default is written in docs/configuration.md ('' when it has none worth showing)."""
    if isinstance(value, bool):  # as TOML writes it
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, tuple):
        return ", ".join(value)
    return str(value)


def test_every_setting_and_secret_is_documented_in_configuration():
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    problems = []
    for section, cls in SECTIONS.items():
        for f in fields(cls):
            key = f"{section}.{f.name}"
            row = _table_row(text, key)
            if row is None:
                problems.append(f"{key}: no table row")
                continue
            variable = f"PAIN_NEWS_{section.upper()}_{f.name.upper()}"
            if f"`{variable}`" not in row:
                problems.append(f"{key}: environment variable {variable} not in its row")
            default = _shown_default(f.default if f.default is not MISSING else "")
            if default and default not in row:
                problems.append(f"{key}: default {default!r} not in its row")
    problems += [
        f"{var}: secret not documented" for var in SECRET_VARIABLES.values() if f"`{var}`" not in text
    ]
    assert problems == []


def _constant_strings(node: ast.AST) -> set[str]:
    return {n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)}


def _call_name(call: ast.Call) -> str:
    """The called function's name; '' for loggers (log.warning(...) is not a finding)."""
    func = call.func
    if isinstance(func, ast.Attribute):
        receiver = ast.unparse(func.value).lower()
        return "" if "log" in receiver or receiver == "warnings" else func.attr
    return func.id if isinstance(func, ast.Name) else ""


def _code_argument(call: ast.Call) -> ast.AST | None:
    """The argument of a finding call that holds its code."""
    for keyword in call.keywords:
        if keyword.arg == "code":
            return keyword.value
    args = call.args
    if args and isinstance(args[0], ast.Constant) and args[0].value in SEVERITIES:
        return args[1] if len(args) > 1 else None
    return args[0] if args else None


def _finding_calls(tree: ast.AST) -> list[tuple[ast.Call, set[str]]]:
    """Calls that make a finding, each with the parameters of the finding helper it sits in (if any)."""
    calls: list[tuple[ast.Call, set[str]]] = []

    def visit(node: ast.AST, forwarded: set[str]) -> None:
        for child in ast.iter_child_nodes(node):
            inner = forwarded
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                is_helper = FINDING_CALL.fullmatch(child.name)
                inner = {a.arg for a in [*child.args.posonlyargs, *child.args.args, *child.args.kwonlyargs]}
                inner = inner if is_helper else set()
            if isinstance(child, ast.Call) and FINDING_CALL.fullmatch(_call_name(child)):
                calls.append((child, inner))
            visit(child, inner)

    visit(tree, set())
    return calls


def emitted_check_codes() -> tuple[set[str], list[str]]:
    """Every check code the package can emit, found by reading its source; and calls it cannot read."""
    codes: set[str] = set()
    unreadable: list[str] = []
    for path in sorted((ROOT / "pain_news").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        tables = set()
        for node in tree.body:
            targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
            if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
                if any(isinstance(t, ast.Name) and CODE_TABLE.fullmatch(t.id) for t in targets):
                    tables |= {s for s in _constant_strings(node.value) if CODE_SHAPE.fullmatch(s)}
        codes |= tables
        for call, forwarded in _finding_calls(tree):
            argument = _code_argument(call)
            if argument is None or (isinstance(argument, ast.Name) and argument.id in forwarded):
                continue  # a helper such as error(code, ...) passing its own parameter on
            found = {s for s in _constant_strings(argument) if CODE_SHAPE.fullmatch(s)}
            if found:
                codes |= found
            elif not isinstance(argument, ast.Constant) and not tables:
                unreadable.append(f"{path.relative_to(ROOT)}:{call.lineno}")
    return codes, unreadable


def test_every_check_code_is_documented_in_checks():
    codes, unreadable = emitted_check_codes()
    # The scan must see the codes we know exist, or it has stopped seeing anything.
    assert {"subject-missing", "size-clip", "reading-grade", "broken-link", "source"} <= codes
    assert unreadable == [], "a finding's code is not a literal: list it in a module-level *CODES* constant"
    text = (DOCS / "checks.md").read_text(encoding="utf-8")
    assert sorted(code for code in codes if f"`{code}`" not in text) == []


def test_readme_is_a_short_front_door_that_starts_with_the_two_commands():
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= README_MAX_LINES
    first_block = text.split("```")[1]
    assert "make demo" in first_block and "make test" in first_block


def _headings_slugs(text: str) -> set[str]:
    """GitHub's anchors for the headings of a markdown page."""
    slugs: set[str] = set()
    for line in _without_fences(text).splitlines():
        match = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if match:
            title = match.group(1).replace("`", "").lower()
            base = re.sub(r"[^\w\- ]", "", title).replace(" ", "-")
            slug, n = base, 0
            while slug in slugs:
                n += 1
                slug = f"{base}-{n}"
            slugs.add(slug)
    return slugs


def _without_fences(text: str) -> str:
    return re.sub(r"(?ms)^```.*?^```", "", text)


def _without_code(text: str) -> str:
    """The text with fenced code blocks and inline code removed (links there are examples)."""
    return re.sub(r"`[^`\n]*`", "", _without_fences(text))


LINK = re.compile(r"\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


def test_every_relative_link_in_readme_and_docs_points_to_something_that_exists():
    broken = []
    for page in _markdown_files():
        for target in LINK.findall(_without_code(page.read_text(encoding="utf-8"))):
            if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
                continue
            file_part, _, anchor = target.partition("#")
            linked = (page.parent / file_part).resolve() if file_part else page
            where = f"{page.relative_to(ROOT)}: {target}"
            if not linked.exists() or ROOT not in [linked, *linked.parents]:
                broken.append(where)
            elif anchor and linked.suffix == ".md" and anchor not in _headings_slugs(linked.read_text()):
                broken.append(f"{where} (no such heading)")
    assert broken == []


# A document cited in a comment or docstring: a path with a folder (docs/design/send-ledger.md) or
# a capitalised name (README.md). Lower-case bare names (01-article.md) are issue files, not citations.
CITED_DOCUMENT = re.compile(r"(?<![\w/.-])((?:[\w.-]+/)+[\w.-]+\.md|[A-Z][A-Z0-9_-]*\.md)\b")


def _python_comments(path: Path) -> list[tuple[int, str]]:
    source = path.read_text(encoding="utf-8")
    found = [
        (tok.start[0], tok.string)
        for tok in tokenize.generate_tokens(io.StringIO(source).readline)
        if tok.type == tokenize.COMMENT
    ]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            doc = ast.get_docstring(node, clean=False)
            if doc:
                found.append((node.body[0].lineno, doc))
    return found


def _hash_comments(path: Path) -> list[tuple[int, str]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [(n, line[line.index("#") :]) for n, line in enumerate(lines, 1) if "#" in line]


def test_every_document_a_comment_cites_is_in_the_repo():
    sources = [p for folder in ("pain_news", "tests", "bench") for p in (ROOT / folder).rglob("*.py")]
    commented = [(p, _python_comments(p)) for p in sorted(sources)]
    commented += [
        (ROOT / name, _hash_comments(ROOT / name)) for name in ("Makefile", "pyproject.toml", ".ci/run")
    ]
    missing = [
        f"{path.relative_to(ROOT)}:{line}: {cited}"
        for path, comments in commented
        for line, text in comments
        for cited in CITED_DOCUMENT.findall(text)
        if not (ROOT / cited).is_file() and not (path.parent / cited).is_file()
    ]
    assert missing == []
