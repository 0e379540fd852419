"""Subscriber CSV files: read an import (UTF-8 with/without BOM, Excel), write list/export output."""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, TextIO

from pain_news.config.languages import DEFAULT_LANGUAGES, normalise_language
from pain_news.config.topics import normalize_topics
from pain_news.errors import StoreError, TopicError
from pain_news.subscribers.store import (
    MAX_NAME,
    MAX_TAG,
    SubscriberRecord,
    check_email,
    check_text,
    email_key,
)
from pain_news.vocab import ACTIVE, OPTED_OUT, PENDING

# Accepted header spellings (compared lower-cased, spaces/dashes as underscores).
COLUMNS = {
    "email": "email",
    "email_address": "email",
    "e_mail": "email",
    "first_name": "first_name",
    "firstname": "first_name",
    "first": "first_name",
    "given_name": "first_name",
    "forename": "first_name",
    "last_name": "last_name",
    "lastname": "last_name",
    "last": "last_name",
    "surname": "last_name",
    "family_name": "last_name",
    "tags": "tags",
    "tag": "tags",
    "topics": "topics",
    "topic": "topics",
    "status": "status",
    "language": "language",
    "lang": "language",
    "preferred_language": "language",
    "idioma": "language",
}
TAG_SPLIT = re.compile(r"[;,|]")
LINE_BREAKS = re.compile(r"[\t\r\n\v\f]+")
OUTPUT_FIELDS = (
    "email",
    "first_name",
    "last_name",
    "status",
    "tags",
    "topics",
    "language",
    "source",
    "created_at",
    "status_changed_at",
    "opted_out_at",
    "opt_out_method",
    "opt_out_campaign_id",
)


# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection): written
# cells get a leading ' (OWASP), which the spreadsheet hides and an import strips again.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell: str) -> str:
    """A CSV cell a spreadsheet shows as text: `'` before a leading =, +, -, @, tab or CR."""
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def restore(cell: str) -> str:
    """The value `neutralise` protected: drops the `'` it added, so an export re-imports unchanged."""
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(FORMULA_STARTS) else cell


class Row(NamedTuple):
    """One good line of an import file (a named tuple: a 100,000-line import makes one per line,
    three times quicker than a frozen dataclass)."""

    line: int
    email: str
    first_name: str
    last_name: str
    tags: tuple[str, ...]
    status: str  # "" or an opt-out status carried by an exported file
    topics: tuple[str, ...] = ()  # keys of config [topics]
    language: str = ""  # one of newsletter.languages; "" = not given (new: the default; known: kept)


@dataclass(frozen=True)
class BadRow:
    """A line that is skipped, and why."""

    line: int
    reason: str


def decode(path: Path) -> tuple[str, str]:
    """The file's text and the encoding used: UTF-8 (BOM or not), else Excel's Windows-1252."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "windows-1252"
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise StoreError(
            "not UTF-8 or Windows-1252 text; save it as 'CSV UTF-8'", path=path, line=line
        ) from None


def column_key(header: str) -> str:
    """A header cell as COLUMNS spells it: lower-case, spaces and dashes as underscores."""
    return re.sub(r"[\s\-]+", "_", header.strip().lower())


def sniff_delimiter(text: str) -> str:
    """',', ';' or tab: whichever the header line holds most of (Excel writes ';' in some locales)."""
    first_line = text.split("\n", 1)[0]
    return max(",;\t", key=first_line.count)


@dataclass(frozen=True)
class Columns:
    """What the header line says: each column it does not recognise (with why), and whether any holds a name."""

    unrecognised: tuple[str, ...]
    has_name: bool
    has_email: bool


def read_columns(text: str) -> Columns:
    """The header's unrecognised columns: "'Frist Name' (did you mean 'first_name'?)", or "'Date of Birth'"."""
    import difflib

    delimiter = sniff_delimiter(text)
    header = next(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), [])
    unknown = []
    for cell in header:
        key = column_key(cell)
        if not key or key in COLUMNS or key in OUTPUT_FIELDS:  # export's own columns re-import quietly
            continue
        joined = next((d for d in ",;\t" if d != delimiter and d in cell), None)
        if joined:
            why = f"several columns joined by {joined!r}? save the file with one delimiter"
        else:
            close = difflib.get_close_matches(key, COLUMNS, n=1, cutoff=0.75)
            why = f"did you mean {COLUMNS[close[0]]!r}?" if close else ""
        unknown.append(f"{cell.strip()!r} ({why})" if why else repr(cell.strip()))
    names = {COLUMNS.get(column_key(cell)) for cell in header}
    return Columns(tuple(unknown), bool(names & {"first_name", "last_name"}), "email" in names)


def read_rows(
    path: Path,
    text: str,
    known_topics: Collection[str] = (),
    languages: Sequence[str] = DEFAULT_LANGUAGES,
) -> Iterator[Row | BadRow]:
    """Rows and bad rows in file order; StoreError when the header or the CSV structure is broken.

    A `topics` cell naming a key that is not in `known_topics` (config [topics]) makes its row bad,
    as does a `language` cell naming none of `languages` (`Spanish`, `es-US` are read as `es`).
    """
    delimiter = sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    width, index = _read_header(reader, path)
    email_at = index["email"]
    first_at, last_at, tags_at, topics_at, status_at, language_at = (
        index.get(name) for name in ("first_name", "last_name", "tags", "topics", "status", "language")
    )
    known = frozenset(known_topics)
    codes = frozenset(languages)
    start = reader.line_num + 1
    try:
        # The quick way below takes only cells that need no repair (printable, so no line break or
        # other control character; no leading "'" for `restore`; short enough) and gives the same
        # Row as `_read_row`; every other line goes through `_read_row`, so a bad line gets the
        # same message either way (test_subscribers_csv.py compares the two on tricky lines).
        for fields in reader:
            line, start = start, reader.line_num + 1
            if not known and topics_at is not None and topics_at < len(fields) and fields[topics_at].strip():
                raise _undeclared_topics(path, line)
            if len(fields) == width:
                email = fields[email_at].strip()
                first = "" if first_at is None else fields[first_at].strip()
                last = "" if last_at is None else fields[last_at].strip()
                tags_cell = "" if tags_at is None else fields[tags_at].strip()
                topics_cell = "" if topics_at is None else fields[topics_at].strip()
                status = "" if status_at is None else fields[status_at].strip().lower()
                language = "" if language_at is None else fields[language_at].strip()
                if (
                    email
                    and email[0] != "'"
                    and (not first or (first[0] != "'" and len(first) <= MAX_NAME and first.isprintable()))
                    and (not last or (last[0] != "'" and len(last) <= MAX_NAME and last.isprintable()))
                    and (not tags_cell or (tags_cell[0] != "'" and tags_cell.isprintable()))
                    and (not topics_cell or (topics_cell[0] != "'" and topics_cell.isprintable()))
                    and (not status or status in _STATUSES)
                    and (not language or language in codes)
                ):
                    tags = (
                        tuple(filter(None, map(str.strip, TAG_SPLIT.split(tags_cell)))) if tags_cell else ()
                    )
                    topics = normalize_topics(TAG_SPLIT.split(topics_cell)) if topics_cell else ()
                    if (
                        len(tags_cell) <= MAX_TAG or all(len(t) <= MAX_TAG for t in tags)
                    ) and known.issuperset(topics):
                        try:
                            email = check_email(email)
                        except StoreError:
                            pass  # _read_row says why
                        else:
                            kept = "" if status == ACTIVE else status
                            yield Row(line, email, first, last, tags, kept, topics, language)
                            continue
            row = _read_row(fields, line, width, index, known_topics, languages)
            if row is not None:
                yield row
    except csv.Error as exc:  # cannot resynchronise: stop, and the import rolls back
        raise StoreError(f"broken CSV: {exc}", path=path, line=start) from None


_STATUSES = frozenset((ACTIVE, *OPTED_OUT))


def _undeclared_topics(path: Path, line: int) -> StoreError:
    # Said once, before any row: otherwise every row would be skipped with "unknown topic".
    return StoreError(
        "the file has topics, but pain-news.toml declares none",
        path=path,
        line=line,
        hint='declare them under [topics] first, one line each (news = "Clinic news"), '
        "then import again; see docs/subscribers.md",
    )


def _read_header(reader: Iterator[list[str]], path: Path) -> tuple[int, dict[str, int]]:
    """The header's width and the index of each column we know (the first of a repeated one);
    StoreError when the file is empty, broken, or has no email column."""
    try:
        header = next(reader)
    except StopIteration:
        raise StoreError(
            "the file is empty (expected a header line with an 'email' column)", path=path
        ) from None
    except csv.Error as exc:
        raise StoreError(f"broken CSV: {exc}", path=path, line=1) from None
    names = [COLUMNS.get(column_key(h), "") for h in header]
    if "email" not in names:
        raise StoreError(f"no 'email' column in the header (found: {', '.join(header)})", path=path, line=1)
    return len(header), {name: i for i, name in reversed(list(enumerate(names))) if name}


def count_addresses(text: str) -> Counter[str]:
    """How many lines name each address (its email_key, bad lines included): one quick pass before
    `read_rows`, so an import knows when it has seen an address's last line."""
    found: Counter[str] = Counter()
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sniff_delimiter(text))
    try:
        names = [COLUMNS.get(column_key(h)) for h in next(reader)]
        at = names.index("email")
        # Every line that has an email cell counts (never fewer than read_rows yields rows for an address).
        found.update(email_key(restore(f[at].strip())) for f in reader if len(f) > at)
    except (StopIteration, ValueError, csv.Error):  # read_rows says what is wrong, at which line
        pass
    return found


def _read_row(
    fields: list[str],
    line: int,
    width: int,
    index: dict[str, int],
    known_topics: Collection[str],
    languages: Sequence[str],
) -> Row | BadRow | None:
    """One line as a Row or a BadRow saying why (None for a blank line): every rule, one cell at a time."""
    if not any(f.strip() for f in fields):
        return None
    if len(fields) != width:
        return BadRow(line, f"expected {width} columns, found {len(fields)}")

    def get(name: str) -> str:
        return restore(fields[index[name]].strip()) if name in index else ""

    try:
        email = check_email(get("email"))
        # Line breaks inside a quoted cell (Excel's Alt-Enter) become spaces; any other control
        # character (NUL, escape, ...) makes the row bad, as does a name or tag that is too long.
        first = check_text("first name", LINE_BREAKS.sub(" ", get("first_name")), MAX_NAME)
        last = check_text("last name", LINE_BREAKS.sub(" ", get("last_name")), MAX_NAME)
        tags = tuple(
            check_text(f"tag {t.strip()[:20]!r}", t, MAX_TAG)
            for t in TAG_SPLIT.split(LINE_BREAKS.sub(" ", get("tags")))
            if t.strip()
        )
        topics = _topics(get("topics"), known_topics)
        language = normalise_language(get("language"), languages) if get("language") else ""
    except StoreError as exc:
        return BadRow(line, exc.message)
    except ValueError as exc:  # the language: "unknown language 'klingon' (known: en, es)"
        return BadRow(line, str(exc))
    status = get("status").lower()
    if status not in ("", ACTIVE, *OPTED_OUT):  # never guess: an unknown word may mean an opt-out
        return BadRow(line, _status_problem(status))
    return Row(line, email, first, last, tags, "" if status == ACTIVE else status, topics, language)


def _status_problem(status: str) -> str:
    if status == PENDING:
        return f"status {status!r}: a signup that was never confirmed is not imported"
    return f"unknown status {status!r} (expected active, unsubscribed, bounced or complained)"


def _topics(cell: str, known: Collection[str]) -> tuple[str, ...]:
    """Topic keys of one cell (separated like tags), as stored; StoreError naming unknown ones."""
    try:
        return normalize_topics(TAG_SPLIT.split(cell), known)
    except TopicError as exc:
        raise StoreError(exc.message) from None


def _cells(record: SubscriberRecord) -> list[str]:
    def text(value: object) -> str:
        if value is None:
            return ""
        return value.isoformat(timespec="seconds") if hasattr(value, "isoformat") else str(value)

    return [
        record.email,
        record.first_name,
        record.last_name,
        record.status,
        ";".join(record.tags),
        ";".join(record.topics),
        record.language,
        record.source,
        text(record.created_at),
        text(record.status_changed_at),
        text(record.opted_out_at),
        text(record.opt_out_method),
        text(record.opt_out_campaign_id),
    ]


def write_csv(records: Iterable[SubscriberRecord], out: TextIO) -> int:
    """Write a header and one line per subscriber, streaming, formulas neutralised; returns the count."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(OUTPUT_FIELDS)
    count = 0
    for record in records:
        writer.writerow([neutralise(cell) for cell in _cells(record)])
        count += 1
    return count


def write_json(records: Iterable[SubscriberRecord], out: TextIO) -> int:
    """Write a JSON array of objects, one per line, without holding the list in memory."""
    out.write("[")
    count = 0
    for count, record in enumerate(records, 1):
        obj = dict(zip(OUTPUT_FIELDS, _cells(record), strict=True))
        obj["tags"] = list(record.tags)  # type: ignore[assignment]
        obj["topics"] = list(record.topics)  # type: ignore[assignment]
        obj["opt_out_campaign_id"] = record.opt_out_campaign_id  # type: ignore[assignment]
        for key in ("opted_out_at", "opt_out_method"):
            obj[key] = obj[key] or None  # type: ignore[assignment]
        out.write(("\n" if count == 1 else ",\n") + json.dumps(obj, ensure_ascii=False))
    out.write("\n]\n" if count else "]\n")
    return count


TABLE = (
    ("email", 36),
    ("first name", 14),
    ("last name", 14),
    ("status", 12),
    ("lang", 4),
    ("topics", 24),
    ("tags", 30),
)


def write_table(records: Iterable[SubscriberRecord], out: TextIO) -> int:
    """Fixed-width columns (streamed, so widths cannot depend on the data); long values end in '…'."""

    def fit(value: str, width: int) -> str:
        return (value if len(value) <= width else value[: width - 1] + "…").ljust(width)

    out.write("  ".join(fit(name, w) for name, w in TABLE).rstrip() + "\n")
    count = 0
    for r in records:
        names = (r.email, r.first_name, r.last_name, r.status, r.language)
        values = (*names, ", ".join(r.topics), ", ".join(r.tags))
        out.write("  ".join(fit(v, w) for v, (_, w) in zip(values, TABLE, strict=True)).rstrip() + "\n")
        count += 1
    return count
