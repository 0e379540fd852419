"""The package's shape: imports flow one way (no cycles, domain code never imports cli/ or web/), and
modules follow jobs, not line counts: no mixin classes, no `type: ignore[attr-defined]` papering over
parts of a class that do not know each other, no function over 80 lines outside a named fast path.
Read from the source with `ast` and `tokenize`, so nothing is imported. docs/development.md ("The
shape of the package") explains each rule."""

from __future__ import annotations

import ast
import builtins
import io
import re
import tokenize
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "pain_news"
MAX_FUNCTION_LINES = 80
# Nothing below them may import them. The desk is a browser front end like cli/ is a terminal one.
LAYERS_ON_TOP = ("pain_news.cli", "pain_news.web", "pain_news.desk")
ENTRY_POINTS = {"pain_news.__main__"}  # `python -m pain_news` runs the CLI: above every layer

# The store layer: the only modules that may talk SQL (issue 8: one owner of the database).
STORE_LAYER = ("pain_news.db", "pain_news.db.models", "pain_news.subscribers.store", "pain_news.ledger")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_modules() -> dict[str, Path]:
    """Every module of the package except the Alembic migrations (generated, linear by design)."""
    return {
        module_name(path): path
        for path in sorted(PACKAGE.rglob("*.py"))
        if "migrations" not in path.relative_to(PACKAGE).parts
    }


def _type_checking_only(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imported_modules(tree: ast.AST, module: str, is_package: bool, known: set[str]) -> set[str]:
    """The `known` modules that `tree` imports anywhere (in functions too), except under TYPE_CHECKING.

    `from x import name` counts x.name when that is a module, else x itself.
    """
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _type_checking_only(node):
            for statement in node.orelse:
                visit(statement)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return (found & known) - {module}


def import_graph() -> dict[str, set[str]]:
    """module → the package modules it imports."""
    modules = package_modules()
    return {
        name: imported_modules(
            ast.parse(path.read_text(encoding="utf-8"), filename=str(path)),
            name,
            path.name == "__init__.py",
            set(modules),
        )
        for name, path in modules.items()
    }


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as [a, b, ..., a], or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_the_package_has_no_import_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " → ".join(cycle or [])


def test_the_cycle_finder_finds_a_cycle_through_a_lazy_import():
    # The shape issue 8 named: a registry importing its providers inside a function, the providers
    # importing the registry at the top.
    source = {
        "pain_news.delivery.base": "def get():\n    from pain_news.delivery.smtp import Smtp\n",
        "pain_news.delivery.smtp": "from pain_news.delivery.base import Provider\n",
        "pain_news.errors": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pain_news.delivery.base\n",
    }
    graph = {
        name: imported_modules(ast.parse(text), name, False, set(source)) for name, text in source.items()
    }
    assert graph["pain_news.errors"] == set()  # type-only imports do not run
    assert find_cycle(graph) == [
        "pain_news.delivery.base",
        "pain_news.delivery.smtp",
        "pain_news.delivery.base",
    ]


def test_domain_modules_never_import_the_cli_or_web_layer():
    offenders = sorted(
        f"{name} imports {target}"
        for name, targets in import_graph().items()
        if not name.startswith(LAYERS_ON_TOP) and name not in ENTRY_POINTS
        for target in targets
        if target.startswith(LAYERS_ON_TOP)
    )
    assert offenders == []


def test_the_web_layer_never_imports_the_cli():
    offenders = sorted(
        f"{name} imports {target}"
        for name, targets in import_graph().items()
        if name.startswith("pain_news.web")
        for target in targets
        if target.startswith("pain_news.cli")
    )
    assert offenders == []


STORE = "pain_news.subscribers.store"


def test_only_the_store_reaches_its_parts():
    # importer.py and ledger/batches.py once imported store.core directly: the rest of the package
    # goes through the front door (pain_news/subscribers/store/__init__.py and its __all__).
    offenders = sorted(
        f"{name} imports {target}"
        for name, targets in import_graph().items()
        if not name.startswith(STORE)
        for target in targets
        if target.startswith(STORE + ".")
    )
    assert offenders == []


# ---- job rules -------------------------------------------------------------------------------------


def package_sources() -> dict[str, str]:
    """module → its source, for every module the rules read (migrations aside: generated, linear)."""
    return {name: path.read_text(encoding="utf-8") for name, path in package_modules().items()}


def _base_name(base: ast.expr) -> str | None:
    """`Provider` for `Provider`, `base.Provider` or `Generic[T]`-style `Provider[T]`; None otherwise."""
    if isinstance(base, ast.Subscript):
        base = base.value
    if isinstance(base, ast.Name):
        return base.id
    if isinstance(base, ast.Attribute):
        return base.attr
    return None


def _root(base: ast.expr) -> str | None:
    """The name a base expression starts from: `parts` for `parts.StoreBase`, `Listing` for `Listing`."""
    while isinstance(base, ast.Subscript | ast.Attribute):
        base = base.value
    return base.id if isinstance(base, ast.Name) else None


def _imported_from_package(tree: ast.AST, module: str) -> set[str]:
    """Names this module binds by `from pain_news... import X` (relative imports included)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (
            node.level or (node.module or "").split(".")[0] == "pain_news"
        ):
            names.update(alias.asname or alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(
                (alias.asname or alias.name).split(".")[0]
                for alias in node.names
                if alias.name.split(".")[0] == "pain_news"
            )
    return names


BUILTIN_EXCEPTIONS = {
    name
    for name, value in vars(builtins).items()
    if isinstance(value, type) and issubclass(value, BaseException)
}


def multiple_inheritance(sources: dict[str, str]) -> list[str]:
    """Classes that are mixins by name (`...Mixin`) or by shape: more than one base class defined in
    the package. Protocols (an interface may extend several) and exceptions (an error may belong to two
    families) are exempt: neither splits one object's behaviour across classes."""
    trees = {name: ast.parse(text) for name, text in sources.items()}
    classes = {
        node.name: node
        for tree in trees.values()
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef)
    }

    def is_exception(node: ast.ClassDef, seen: frozenset[str] = frozenset()) -> bool:
        for base in map(_base_name, node.bases):
            if base in BUILTIN_EXCEPTIONS:
                return True
            if base in classes and base not in seen and is_exception(classes[base], seen | {node.name}):
                return True
        return False

    found = []
    for module, tree in sorted(trees.items()):
        local = {node.name for node in ast.walk(tree) if isinstance(node, ast.ClassDef)}
        ours = local | _imported_from_package(tree, module)
        for node in ast.walk(tree):
            if not isinstance(node, ast.ClassDef):
                continue
            if node.name.endswith("Mixin"):
                found.append(f"{module}.{node.name}: a mixin (compose a part instead)")
                continue
            bases = [_base_name(b) for b in node.bases]
            if "Protocol" in bases or is_exception(node):
                continue
            project_bases = [
                b for b, expr in zip(bases, node.bases, strict=True) if b in classes and _root(expr) in ours
            ]
            if len(project_bases) > 1:
                found.append(f"{module}.{node.name}: inherits {', '.join(project_bases)}")
    return found


IGNORE_ATTR_DEFINED = re.compile(r"type:\s*ignore(?!\[)|type:\s*ignore\[[^\]]*\battr-defined\b")


def attr_defined_ignores(sources: dict[str, str]) -> list[str]:
    """Comments that silence mypy's attr-defined: `type: ignore[attr-defined]` or a bare `type: ignore`."""
    found = []
    for module, text in sorted(sources.items()):
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type == tokenize.COMMENT and IGNORE_ATTR_DEFINED.search(token.string):
                found.append(f"{module}:{token.start[0]}")
    return found


def long_functions(sources: dict[str, str], limit: int = MAX_FUNCTION_LINES) -> dict[str, int]:
    """module.qualname → lines, for every function or method longer than `limit`, counted from its
    `def` to its last line (decorators such as click options are declarations, not counted; a nested
    function counts inside its parent and on its own)."""
    found: dict[str, int] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                size = (child.end_lineno or child.lineno) - child.lineno + 1
                if size > limit:
                    found[f"{prefix}.{child.name}"] = size
                visit(child, f"{prefix}.{child.name}")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}.{child.name}")
            else:
                visit(child, prefix)

    for module, text in sorted(sources.items()):
        visit(ast.parse(text), module)
    return found


# Functions allowed over 80 lines, each with why. Kept tiny: an entry that is no longer needed (the
# function is gone or now short) fails test_the_long_function_allowlist_only_shrinks.
LONG_FUNCTIONS_ALLOWED: dict[str, str] = {}


def test_no_mixin_classes():
    assert multiple_inheritance(package_sources()) == []


def test_no_type_ignore_attr_defined():
    assert attr_defined_ignores(package_sources()) == [], "parts that call each other belong to one object"


def test_no_function_over_80_lines_outside_the_allowlist():
    too_long = {
        name: lines
        for name, lines in long_functions(package_sources()).items()
        if name not in LONG_FUNCTIONS_ALLOWED
    }
    assert too_long == {}, f"over {MAX_FUNCTION_LINES} lines (split it by job): {too_long}"


def test_the_long_function_allowlist_only_shrinks():
    long = long_functions(package_sources())
    stale = [name for name in LONG_FUNCTIONS_ALLOWED if name not in long]
    assert stale == [], "no longer over 80 lines (or gone): take it off LONG_FUNCTIONS_ALLOWED"


# Each rule catches what it is for: the checkers run on small sources written to break them.
SYNTHETIC = {
    "pain_news.errors": "class PainNewsError(Exception): ...\nclass StoreError(PainNewsError): ...\n"
    "class InvalidToken(PainNewsError): ...\n",
    "pain_news.parts": "class StoreBase: ...\nclass Listing: ...\nclass Provider: ...\n",
}


@pytest.mark.parametrize(
    "source, found",
    [
        ("class ImportMixin:\n    pass\n", ["pain_news.shape.ImportMixin: a mixin (compose a part instead)"]),
        (
            "from pain_news.parts import Listing, StoreBase\nclass Store(StoreBase, Listing): ...\n",
            ["pain_news.shape.Store: inherits StoreBase, Listing"],
        ),
        (
            "from pain_news import parts\nclass Store(parts.StoreBase, parts.Listing): ...\n",
            ["pain_news.shape.Store: inherits StoreBase, Listing"],
        ),
        ("class A: ...\nclass B: ...\nclass C(A, B): ...\n", ["pain_news.shape.C: inherits A, B"]),
        # Allowed: one project base, a Protocol, an exception in two families, library bases.
        ("from pain_news.parts import StoreBase\nclass Store(StoreBase): ...\n", []),
        (
            "from typing import Protocol\nfrom pain_news.parts import Listing, Provider\n"
            "class P(Listing, Provider, Protocol): ...\n",
            [],
        ),
        (
            "from pain_news.errors import InvalidToken, StoreError\nclass Gone(StoreError, InvalidToken): ...\n",
            [],
        ),
        ("import enum\nclass Kind(str, enum.Enum): ...\n", []),
    ],
)
def test_the_mixin_rule_catches_mixins_and_spares_protocols_and_errors(source, found):
    assert multiple_inheritance({**SYNTHETIC, "pain_news.shape": source}) == found


@pytest.mark.parametrize(
    "source, found",
    [
        ("x = store._find(s)  # type: ignore[attr-defined]\n", ["pain_news.shape:1"]),
        ("x = 1\ny = a.b  # type: ignore[union-attr, attr-defined]\n", ["pain_news.shape:2"]),
        ("y = a.b  # type: ignore\n", ["pain_news.shape:1"]),
        ("import textstat  # type: ignore[import-untyped]\n", []),
        ('text = "# type: ignore[attr-defined]"\n', []),  # a string, not a comment
    ],
)
def test_the_ignore_rule_catches_attr_defined_ignores(source, found):
    assert attr_defined_ignores({"pain_news.shape": source}) == found


def test_the_length_rule_counts_methods_and_nested_functions():
    body = "".join(f"    x{i} = {i}\n" for i in range(80))
    source = (
        f"@decorator\ndef short():\n{body[: -len('    x79 = 79' + chr(10))]}\n"  # 80 lines with its def
        f"class Store:\n    def long(self):\n{''.join('    ' + line + chr(10) for line in body.splitlines())}"
        f"def outer():\n    def inner():\n{''.join('    ' + line + chr(10) for line in body.splitlines())}"
    )
    assert long_functions({"pain_news.shape": source}) == {
        "pain_news.shape.Store.long": 81,
        "pain_news.shape.outer": 82,
        "pain_news.shape.outer.inner": 81,
    }


def test_only_the_store_layer_imports_sqlalchemy():
    offenders = []
    for name, path in package_modules().items():
        if name.startswith(STORE_LAYER):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            offenders += [f"{name}:{node.lineno}" for n in names if n.split(".")[0] == "sqlalchemy"]
    assert offenders == [], "SQL belongs to the store layer (store*, ledger/, db, models): " + ", ".join(
        offenders
    )


def test_every_file_the_package_reads_is_shipped_in_the_wheel():
    # Templates, scaffold files, web pages and migrations are read from the package at run time: a
    # file no package-data pattern names is missing from a non-editable install (`init` without
    # templates). default_templates is a link to templates/, so that folder counts too.
    import tomllib

    config = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["pain_news"]
    data_files = [
        path.relative_to(PACKAGE).as_posix()
        for folder in (
            "default_templates",
            "scaffold",
            "web/templates",
            "web/static",
            "desk/templates",
            "desk/static",
            "migrations",
        )
        if (PACKAGE / folder).exists()
        for path in sorted((PACKAGE / folder).rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    ]
    assert data_files, "found no data files: the package layout changed"
    shipped = {p.relative_to(PACKAGE).as_posix() for pattern in patterns for p in PACKAGE.glob(pattern)}
    unshipped = [f for f in data_files if f not in shipped]
    assert unshipped == []
