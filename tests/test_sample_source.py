"""The sample spotlight says what the clinic's own page on failed spine surgery syndrome says, and no
more: every causes, symptoms and treatments bullet maps to one of the page's facts (kept here in
short form, with the words a bullet must use), and the page's hedges stay."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

SPOTLIGHT = (
    Path(__file__).resolve().parent.parent
    / "issues"
    / "2026-12-winter"
    / "01-spotlight-failed-spine-surgery.md"
)

# The clinic's page, fact by fact: (short form of the fact, words a bullet stating it uses).
FACTS: dict[str, list[tuple[str, tuple[str, ...]]]] = {
    "Causes": [
        ("an incorrect initial diagnosis", ("diagnosis", "not correct")),
        ("surgery at an incorrect level or location", ("wrong level", "location")),
        ("scar tissue formation", ("scar tissue",)),
        (
            "failure of spinal fusion with bone grafts and other materials",
            ("spinal fusion", "did not succeed"),
        ),
        ("nerve damage during surgery", ("nerve damage", "surgery")),
        ("traditional open back surgery may also increase the risk", ("open back surgery", "may")),
    ],
    "Symptoms": [
        ("limited mobility and flexibility", ("movement", "flexibility")),
        ("pain radiating toward other parts of the body", ("spreads", "other parts of the body")),
        ("muscle spasms in the back", ("muscle spasms", "back")),
        ("pain above or below the treated location", ("above or below", "treated")),
        ("anxiety; depression", ("anxiety", "depression")),
        ("dependence on prescription pain medication", ("prescription pain medicine",)),
        ("an inability to heal from surgery", ("not healing", "surgery")),
    ],
    "Treatments": [
        ("physical therapy", ("physical therapy",)),
        ("steroid injections", ("steroid injections",)),
        ("radiofrequency ablation", ("radiofrequency ablation",)),
        ("nerve blocks", ("nerve blocks",)),
        ("spinal cord stimulation", ("spinal cord stimulation",)),
        ("another minimally invasive spine surgery", ("minimally invasive spine surgery",)),
    ],
}


def bullets(section: str) -> list[str]:
    text = SPOTLIGHT.read_text(encoding="utf-8")
    body = text.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    return [line[2:].strip() for line in body.splitlines() if line.startswith("- ")]


def facts_stated(bullet: str, section: str) -> list[str]:
    lowered = bullet.lower()
    return [fact for fact, words in FACTS[section] if all(w in lowered for w in words)]


@pytest.mark.parametrize("section", sorted(FACTS))
def test_every_bullet_states_exactly_one_of_the_pages_facts(section):
    found = bullets(section)
    assert found, f"no bullets under {section}"
    for bullet in found:
        assert len(facts_stated(bullet, section)) == 1, (
            f"{section}: {bullet!r} is not one of the page's facts"
        )


@pytest.mark.parametrize("section", sorted(FACTS))
def test_no_fact_is_stated_twice(section):
    stated = [fact for bullet in bullets(section) for fact in facts_stated(bullet, section)]
    assert len(stated) == len(set(stated))


def test_the_pages_hedges_and_words_stay():
    text = SPOTLIGHT.read_text(encoding="utf-8")
    assert "Possible causes may include" in text
    assert "Other signs may include" in text
    assert "may help" in text
    # The page says surgery; the sample does not swap in "operation" or claim more than the page.
    assert not re.search(r"\boperations?\b", text, re.I)
    for claim in ("most common", "best", "guarantee", "cure", "always", "proven", "higher risk than"):
        assert claim not in text.lower(), claim
