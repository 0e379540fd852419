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
