"""`check`'s parity between editions, and the reading level of each language by its own formula."""

from __future__ import annotations

import json

import pytest

from pain_news.checks.parity import paragraphs, reads_as
from pain_news.checks.readability import fernandez_huerta, words_of
from pain_news.checks.run import run_check
from pain_news.checks.syllables import spanish_syllables
from tests.test_gates import tiny_png

SPOTLIGHT_ES = "01-spotlight-failed-spine-surgery.es.md"
ARTICLE_ES = "02-winter-activity.es.md"
VISIT_ES = "03-first-visit.es.md"
ENGLISH_PARAGRAPH = "Cold weather makes many people with chronic pain feel stiff. Gentle movement helps:"


def edit(issue, name, old, new):
    path = issue / name
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def codes(config, issue, code_prefix="parity"):
    report = run_check(config, issue, readability=False)
    return [
        (f.code, f.path.name if f.path else None) for f in report.findings if f.code.startswith(code_prefix)
    ]


def test_the_sample_s_spanish_edition_keeps_parity(config, sample_issue):
    assert codes(config, sample_issue) == []


@pytest.mark.parametrize(
    "name, old, new, code",
    [
        (
            VISIT_ES,
            "url: https://www.tristatepain.example/appointments/",
            "url: https://www.tristatepain.example/citas/",
            "parity-cta",
        ),
        (SPOTLIGHT_ES, "reviewed_on: 2026-11-02", "reviewed_on: 2026-11-03", "parity-review"),
        (SPOTLIGHT_ES, "reviewed_by: clinic-reviewer", "reviewed_by: remote-reviewer", "parity-review"),
        (SPOTLIGHT_ES, "- Se formó tejido cicatricial\n", "", "parity-list"),
        (
            ARTICLE_ES,
            "Si empieza un dolor nuevo",
            "Vea [la guía](https://example.org/guia). Si empieza",
            "parity-links",
        ),
        (
            ARTICLE_ES,
            "- Caliente los músculos",
            f"{ENGLISH_PARAGRAPH}\n\n- Caliente los músculos",
            "parity-untranslated",
        ),
        (
            ARTICLE_ES,
            "Si empieza un dolor nuevo o uno viejo empeora, llámenos antes de forzarse.",
            "If a new pain starts or an old one gets worse, call us before you push through it.",
            "parity-untranslated",
        ),
    ],
    ids=[
        "cta",
        "reviewed-on",
        "reviewed-by",
        "list-items",
        "extra-link",
        "english-paragraph",
        "left-in-english",
    ],
)
def test_an_edition_that_says_something_else_is_an_error_naming_the_file(
    config, sample_issue, name, old, new, code
):
    edit(sample_issue, name, old, new)
    found = codes(config, sample_issue)
    assert (code, name) in found, found
    report = run_check(config, sample_issue, readability=False)
    assert any(f.severity == "error" and f.code == code and f.line for f in report.findings)


def test_a_link_missing_from_the_edition_is_named(config, sample_issue):
    edit(
        sample_issue, "02-winter-activity.md", "call us before", "[call us](https://example.org/call) before"
    )
    [finding] = [
        f for f in run_check(config, sample_issue, readability=False).findings if f.code == "parity-links"
    ]
    assert finding.path is not None and finding.path.name == ARTICLE_ES
    assert "lacks the link https://example.org/call" in finding.message


def test_images_need_the_same_file_and_alt_text_in_the_edition_s_language(config, sample_issue):
    (sample_issue / "images").mkdir()
    (sample_issue / "images" / "walk.png").write_bytes(tiny_png())
    edit(
        sample_issue,
        "02-winter-activity.md",
        "call us before",
        "call us before\n\n![A short winter walk](images/walk.png)\n\nOK",
    )
    edit(sample_issue, ARTICLE_ES, "antes de forzarse.", "antes de forzarse.\n\n![](images/walk.png)\n")
    messages = [
        f.message
        for f in run_check(config, sample_issue, readability=False).findings
        if f.code == "parity-images"
    ]
    assert any("has no alt text" in m for m in messages), messages
    edit(sample_issue, ARTICLE_ES, "![](images/walk.png)", "![A short winter walk](images/walk.png)")
    messages = [
        f.message
        for f in run_check(config, sample_issue, readability=False).findings
        if f.code == "parity-images"
    ]
    assert any("keeps the default alt text" in m for m in messages), messages
    edit(sample_issue, ARTICLE_ES, "![A short winter walk]", "![Una caminata corta en invierno]")
    assert codes(config, sample_issue, "parity-images") == []


def test_a_piece_without_its_edition_is_an_error(config, sample_issue):
    (sample_issue / ARTICLE_ES).unlink()
    report = run_check(config, sample_issue, readability=False)
    assert any(
        f.code == "missing-file" and f.path is not None and f.path.name == ARTICLE_ES for f in report.findings
    )


# ---- the language of a paragraph: measured on the sample (docs/design/editions-parity.md) ------


def test_every_sample_paragraph_is_told_apart_by_its_function_words(config, sample_issue):
    from pain_news.issue.loader import load_issue

    issue = load_issue(sample_issue, config.newsletter.public_url, config.topic_keys, config.languages)
    spanish = [
        t for p in issue.editions[0].pieces for t, _ in paragraphs(p.markdown) if len(words_of(t)) >= 6
    ]
    english = [t for p in issue.pieces for t, _ in paragraphs(p.markdown) if len(words_of(t)) >= 6]
    assert len(spanish) > 15 and len(english) > 15
    assert [t for t in spanish if reads_as(words_of(t), "en", "es")] == []
    assert [t for t in english if not reads_as(words_of(t), "en", "es")] == []


# ---- reading level per language ------------------------------------------------------------------


@pytest.mark.parametrize(
    "word, syllables",
    [
        ("una", 2),
        ("aéreo", 4),
        ("cirugía", 4),
        ("ahorro", 3),
        ("construcción", 3),
        ("después", 2),
        ("muy", 1),
        ("guía", 2),
        ("país", 2),
        ("ciudad", 2),
        ("término", 3),
        ("tratamiento", 4),
        ("quirúrgico", 4),
        ("y", 1),
    ],
)
def test_spanish_syllables_follow_spanish_spelling(word, syllables):
    assert spanish_syllables(word) == syllables


def test_fernandez_huerta_of_a_fixed_text():
    text = (
        "El frío hace que muchas personas con dolor crónico se sientan rígidas. Moverse con suavidad ayuda."
    )
    # 16 words, 2 sentences, 33 syllables: 206.84 − 60 × 33/16 − 1.02 × 8
    assert fernandez_huerta(text) == round(206.84 - 60 * 33 / 16 - 1.02 * 8, 1)


def test_check_scores_the_spanish_edition_by_its_own_formula_and_config_target(
    make_config, sample_issue, project
):
    report = run_check(make_config(), sample_issue)
    assert set(report.edition_grades["es"]) == set(report.grades)
    assert all(score >= 60 for score in report.edition_grades["es"].values())
    assert not [f for f in report.findings if f.code == "reading-grade"]
    assert "Reading level of the es edition (Fernández Huerta reading ease):" in report.lines()
    data = json.loads(report.to_json())
    assert data["edition_reading_scores"]["es"] == report.edition_grades["es"]
    strict = make_config({"PAIN_NEWS_CHECK_READING_EASE_MIN_ES": "95"})
    hard = [f for f in run_check(strict, sample_issue).findings if f.code == "reading-grade"]
    assert {f.path.name for f in hard if f.path is not None} == {SPOTLIGHT_ES, ARTICLE_ES, VISIT_ES}
    assert "aim for 95 or above" in hard[0].message
