"""Subscribers have a language: one rule for codes and names, config, import, add, list, export."""

import json

import pytest

from pain_news.config.languages import language_code, normalise_language, preferred_language
from pain_news.errors import ConfigError
from pain_news.subscribers.importer import import_file


@pytest.mark.parametrize(
    "value, code",
    [
        ("es", "es"),
        ("es-US", "es"),
        ("ES_mx", "es"),
        ("Spanish", "es"),
        ("español", "es"),
        (" Español ", "es"),
        ("castellano", "es"),
        ("English", "en"),
        ("en-GB", "en"),
        ("klingon", None),
        ("", None),
        ("e s", None),
    ],
)
def test_language_code_reads_codes_and_common_names(value, code):
    assert language_code(value) == code


def test_a_language_outside_the_configured_ones_is_refused_naming_them():
    assert normalise_language("Spanish", ("en", "es")) == "es"
    with pytest.raises(ValueError, match=r"unknown language 'French' \(known: en, es\)"):
        normalise_language("French", ("en", "es"))


@pytest.mark.parametrize(
    "header, expected",
    [
        ("es-US,es;q=0.9,en;q=0.8", "es"),
        ("en-US,en;q=0.9,es;q=0.8", "en"),
        ("fr-FR, es;q=0.5", "es"),
        ("es;q=0.2, en;q=0.9", "en"),
        ("es;q=0, en;q=0.1", "en"),
        ("fr, de", None),
        ("", None),
    ],
)
def test_accept_language_picks_the_best_configured_language(header, expected):
    assert preferred_language(header, ("en", "es")) == expected


def test_config_languages_default_first_and_from_the_environment(make_config):
    assert make_config().languages == ("en", "es")
    config = make_config({"PAIN_NEWS_NEWSLETTER_LANGUAGES": "es,en"})
    assert (config.languages, config.default_language) == (("es", "en"), "es")


@pytest.mark.parametrize("value", ["en,Spanish", "en,en", "en,es-US"])
def test_config_languages_must_be_distinct_codes(make_config, value):
    with pytest.raises(ConfigError, match="newsletter.languages") as caught:
        make_config({"PAIN_NEWS_NEWSLETTER_LANGUAGES": value})
    assert caught.value.path == "PAIN_NEWS_NEWSLETTER_LANGUAGES"


def test_import_reads_the_language_column_and_refuses_unknown_ones(any_store, tmp_path):
    path = tmp_path / "list.csv"
    path.write_text(
        "email,first_name,Language\n"
        "ana@example.org,Ana,Spanish\n"
        "ben@example.org,Ben,es-US\n"
        "cy@example.org,Cy,\n"
        "dee@example.org,Dee,klingon\n"
        "eve@example.org,Eve,español\n"
        "fay@example.org,Fay,EN\n",
        encoding="utf-8",
    )
    summary = import_file(any_store, path, languages=("en", "es"))
    assert [(b.line, b.reason) for b in summary.bad_rows] == [
        (5, "unknown language 'klingon' (known: en, es)")
    ]
    got = {r.email: r.language for r in any_store.iter_subscribers()}
    assert got == {
        "ana@example.org": "es",
        "ben@example.org": "es",
        "cy@example.org": "en",
        "eve@example.org": "es",
        "fay@example.org": "en",
    }


def test_import_changes_a_known_language_only_when_the_file_gives_one(any_store, tmp_path):
    any_store.add("ana@example.org", "Ana", language="es")
    any_store.add("ben@example.org", "Ben", language="es")
    path = tmp_path / "again.csv"
    path.write_text("email,language\nana@example.org,\nben@example.org,English\n", encoding="utf-8")
    summary = import_file(any_store, path, languages=("en", "es"))
    assert (summary.updated, summary.unchanged) == (1, 1)
    assert {r.email: r.language for r in any_store.iter_subscribers()} == {
        "ana@example.org": "es",
        "ben@example.org": "en",
    }


def test_import_default_language_is_the_first_configured(any_store, tmp_path):
    path = tmp_path / "list.csv"
    path.write_text("email\nana@example.org\n", encoding="utf-8")
    import_file(any_store, path, languages=("es", "en"))
    assert [r.language for r in any_store.iter_subscribers()] == ["es"]


def test_import_never_touches_an_opted_out_subscriber_for_a_language(any_store, tmp_path):
    any_store.add("ana@example.org", "Ana")
    any_store.unsubscribe("ana@example.org")
    path = tmp_path / "list.csv"
    path.write_text("email,language\nana@example.org,es\n", encoding="utf-8")
    summary = import_file(any_store, path, languages=("en", "es"))
    assert summary.kept_opted_out == 1
    [record] = any_store.iter_subscribers()
    assert (record.status, record.language) == ("unsubscribed", "en")


def test_add_list_show_and_export_carry_the_language(project, run_cli):
    run_cli("subscribers", "add", "ana@example.org", "--first-name", "Ana", "--language", "Spanish")
    run_cli("subscribers", "add", "ben@example.org")
    rows = json.loads(run_cli("subscribers", "list", "--format", "json").stdout)
    assert [(r["email"], r["language"]) for r in rows] == [
        ("ana@example.org", "es"),
        ("ben@example.org", "en"),
    ]
    csv_out = run_cli("subscribers", "list", "--format", "csv").stdout.splitlines()
    assert "language" in csv_out[0].split(",")
    assert csv_out[1].split(",")[csv_out[0].split(",").index("language")] == "es"
    table = run_cli("subscribers", "list").stdout.splitlines()
    assert table[0].split()[6] == "lang"
    assert table[1].split() == ["ana@example.org", "Ana", "active", "es"]
    assert "language: es" in run_cli("subscribers", "show", "ana@example.org").stdout
    # an export re-imports with its languages
    (project / "backup.csv").write_text("\n".join(csv_out) + "\n", encoding="utf-8")
    fresh = {"PAIN_NEWS_DATABASE_URL": f"sqlite:///{project / 'fresh.db'}"}
    run_cli("subscribers", "import", "backup.csv", env=fresh)
    again = json.loads(run_cli("subscribers", "list", "--format", "json", env=fresh).stdout)
    assert [r["language"] for r in again] == ["es", "en"]


def test_add_refuses_an_unknown_language_with_exit_2(project, run_cli):
    result = run_cli("subscribers", "add", "ana@example.org", "--language", "klingon", ok=False)
    assert result.exit_code == 2
    assert "unknown language 'klingon' (known: en, es)" in result.stderr
    assert not (project / "subscribers" / "pain-news.db").exists()  # refused before anything was opened
