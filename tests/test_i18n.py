"""The message catalogues are complete and current; languages, dates and numbers follow the reader."""

from __future__ import annotations

import datetime as dt

import pytest

from pain_news import i18n
from tools import catalogues


def strings(value: object) -> list[str]:
    """A message's translation(s): one string, or one per plural form."""
    return (
        [value]
        if isinstance(value, str)
        else [str(v) for v in value or ()]
        if isinstance(value, (list, tuple))
        else [""]
    )


def test_every_marked_message_has_a_spanish_translation():
    catalog = catalogues.read("es")
    empty = [m.id for m in catalog if m.id and not all(strings(m.string))]
    fuzzy = [m.id for m in catalog if m.id and m.fuzzy]
    assert empty == []
    assert fuzzy == []


def test_the_spanish_catalogue_holds_every_message_the_code_marks():
    marked = {m.id for m in catalogues.extract() if m.id}
    held = {m.id for m in catalogues.read("es") if m.id}
    assert sorted(marked - held) == [], "run `make catalogues` and translate the new entries"
    assert sorted(held - marked) == [], "run `make catalogues` to drop messages no longer used"


@pytest.mark.parametrize("language", catalogues.languages())
def test_the_committed_mo_is_the_po_compiled(language):
    mo = catalogues.po_path(language).with_suffix(".mo")
    assert mo.read_bytes() == catalogues.compiled(catalogues.read(language)), "run `make catalogues`"


def test_translations_keep_every_placeholder():
    for message in catalogues.read("es"):
        if message.id and isinstance(message.id, str):
            translated = " ".join(strings(message.string))
            for name in ("%(email)s", "%(newsletter)s", "%(name)s", "%(url)s", "%(number)s", "%(who)s"):
                assert (name in message.id) == (name in translated), message.id


def test_spanish_is_offered_and_english_is_the_source():
    assert i18n.catalogue_languages() == ("en", "es")
    assert i18n.translate("es", "Unsubscribe") == "Darse de baja"
    assert i18n.translate("en", "Unsubscribe") == "Unsubscribe"
    assert i18n.translate("fr", "Unsubscribe") == "Unsubscribe"  # no catalogue: as written


@pytest.mark.parametrize(
    "header, expected",
    [
        ("es-MX,es;q=0.9,en;q=0.8", "es"),
        ("en-US,en;q=0.9,es;q=0.8", "en"),
        ("fr-CA, es;q=0.5", "es"),
        ("fr", "en"),
        ("", "en"),
        (None, "en"),
        ("es;q=0, en;q=0.1", "en"),
        ("es;q=abc, en", "en"),
        ("en;q=0.4, ES-us;q=0.6", "es"),
    ],
)
def test_best_language_follows_accept_language(header, expected):
    assert i18n.best_language(header, ("en", "es"), "en") == expected


def test_dates_and_numbers_follow_the_locale():
    day = dt.date(2027, 1, 5)
    assert i18n.format_date(day, "en") == "January 5, 2027"
    assert i18n.format_date(day, "es") == "5 de enero de 2027"
    assert i18n.format_month(day, "es") == "enero de 2027"
    assert i18n.format_number(12500, "en") == "12,500"
    assert i18n.format_number(12500, "es") == "12.500"


def test_primary_subtag():
    assert i18n.primary("es-US") == "es"
    assert i18n.primary(" ES_us ") == "es"


def test_spanish_email_chrome_review_line_and_credentials(config, sample_issue):
    import dataclasses

    from pain_news.config.reviewers import Reviewer
    from pain_news.issue.loader import load_issue
    from pain_news.render.pipeline import render_issue

    issue = load_issue(sample_issue)
    reviewers = tuple(
        dataclasses.replace(r, credentials_in=(("es", "MD, especialista en dolor"),)) if r.credentials else r
        for r in (config.reviewers or (Reviewer("clinic-reviewer", "Clinic Reviewer", "MD"),))
    )
    english = render_issue(issue, config.newsletter, config.templates_dir, reviewers)
    spanish = render_issue(issue, config.newsletter, config.templates_dir, reviewers, language="es")
    assert '<html lang="es"' in spanish.email_html and '<html lang="en"' in english.email_html
    shown = " ".join(spanish.email_html.split())  # lines are wrapped under 998 (render/linewrap.py)
    for words in ("Darse de baja", "Administrar preferencias", "Ver en el navegador", "Números anteriores"):
        assert words in shown, words
    assert "Darse de baja:" in spanish.email_text and "Unsubscribe:" in english.email_text
    assert "Revisado médicamente por" in spanish.email_text and " de 20" in spanish.email_text
    assert "Unsubscribe" not in spanish.email_text
