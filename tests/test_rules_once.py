"""Each rule lives in one place (docs/development.md, "One place for each rule"): read from the
source, so a second copy of a rule fails here before it can drift from the first."""

from __future__ import annotations

import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "pain_news"


def sources() -> dict[str, str]:
    return {
        str(path.relative_to(PACKAGE)): path.read_text(encoding="utf-8")
        for path in sorted(PACKAGE.rglob("*.py"))
        if "migrations" not in path.parts
    }


def holders(pattern: str) -> list[str]:
    return [name for name, text in sources().items() if re.search(pattern, text)]


def test_is_this_postgresql_is_asked_one_way():
    assert holders(r"dialect\.name") == ["db/__init__.py"]  # db.is_postgresql


def test_utc_is_normalised_one_way():
    assert holders(r"replace\(tzinfo=(dt\.)?UTC\)") == ["config/clock.py"]  # clock.as_utc


def test_the_clinic_name_falls_back_in_one_place():
    assert holders(r"\"TriState Pain Institute\"|'TriState Pain Institute'") == ["config/settings.py"]


def test_topics_are_normalised_in_one_place():
    assert holders(r"MAX_TOPIC\w* = ") == ["config/topics.py"]
    assert holders(r"f\"unknown topic") == ["config/topics.py"]  # normalize_topics words it


def test_the_review_rule_and_the_draft_flag_are_read_in_one_place():
    assert holders(r"months_before\(") == ["issue/model.py"]
    assert holders(r"get\(\"draft\"\)") == ["issue/model.py"]


def _lazy_imports_without_a_reason() -> list[str]:
    """Imports of the package's own modules inside functions whose group of import lines is not
    introduced by a `# lazy: reason` comment."""
    import ast

    missing = []
    for name, text in sources().items():
        lines = text.splitlines()
        for node in ast.walk(ast.parse(text)):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for inner in ast.walk(node):
                if isinstance(inner, ast.ImportFrom):
                    own = (inner.module or "").startswith("pain_news")
                elif isinstance(inner, ast.Import):
                    own = any(a.name.startswith("pain_news") for a in inner.names)
                else:
                    continue
                if not own:
                    continue
                above = inner.lineno - 2
                while above >= 0 and re.match(r"\s*(from |import |\)|[\w, ]+,$)", lines[above]):
                    above -= 1
                if above < 0 or "# lazy:" not in lines[above]:
                    missing.append(f"{name}:{inner.lineno}")
    return sorted(set(missing))


def test_own_modules_are_imported_at_the_top_unless_a_comment_says_why():
    """Imports at the top keep a module's dependencies visible; a lazy one (a command module, a
    heavy optional dependency, a worker that must stay small) says why on the line above."""
    assert _lazy_imports_without_a_reason() == []
