"""docs/development.md's layout map matches the package: every package and top-level module is
listed, and everything listed exists (read from the files, so nothing is imported)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "pain_news"
DOC = ROOT / "docs" / "development.md"


def layout_block() -> str:
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index("## Layout\n") :]
    start = section.index("```\npain_news/\n") + 4
    return section[start : section.index("\n```", start)]


def listed_names() -> set[str]:
    """Top-level entries of the map: `cli/`, `errors.py`, ... (the first word of each indented line)."""
    return {m.group(1) for m in re.finditer(r"^  ([\w.]+/?)\s", layout_block(), re.M)}


def nested_packages_mentioned() -> set[str]:
    return set(re.findall(r"\b([a-z_]+/)", layout_block()))


def real_names() -> set[str]:
    packages = {f"{p.parent.name}/" for p in PACKAGE.glob("*/__init__.py")}
    modules = {p.name for p in PACKAGE.glob("*.py") if p.name != "__init__.py"}
    return packages | modules


def test_every_package_and_top_level_module_is_in_the_layout_map():
    assert sorted(real_names() - listed_names()) == []


def test_the_layout_map_lists_nothing_that_does_not_exist():
    assert sorted(listed_names() - real_names()) == []


def test_every_nested_package_is_named_in_the_map():
    nested = {f"{p.parent.name}/" for p in PACKAGE.glob("*/*/__init__.py")}
    nested |= {f"{p.parent.name}/" for p in PACKAGE.glob("*/*/*/__init__.py")}
    assert sorted(nested - nested_packages_mentioned()) == []
