"""`subscribers import`: merge a CSV file into the store in one transaction, never reviving an opt-out."""

from __future__ import annotations

import datetime as dt
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pain_news.config.languages import DEFAULT_LANGUAGES
from pain_news.db.models import utcnow
from pain_news.errors import StoreError
from pain_news.subscribers.csv_files import BadRow, Row, count_addresses, decode, read_columns, read_rows
from pain_news.subscribers.store import SubscriberStore, clean_tags, email_key


@dataclass
class ImportSummary:
    """What an import did (or, with --dry-run, would do)."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    kept_opted_out: int = 0
    kept_own_choice: int = 0  # subscribers whose own name or topics the file would have changed
    merged_duplicates: int = 0
    bad_rows: list[BadRow] = field(default_factory=list)
    encoding: str = "utf-8"
    dry_run: bool = False
    unrecognised_columns: tuple[str, ...] = ()  # header cells not imported, each with a suggestion

    @property
    def skipped(self) -> int:
        return len(self.bad_rows)

    def summary_line(self) -> str:
        prefix = "dry run, nothing saved: would have " if self.dry_run else ""
        return (
            f"{prefix}added {self.added}, updated {self.updated}, unchanged {self.unchanged}, "
            f"skipped {self.skipped}, kept opted-out {self.kept_opted_out}"
            + (f", kept the subscriber's own choice: {self.kept_own_choice}" if self.kept_own_choice else "")
            + (f" ({self.merged_duplicates} duplicate rows merged)" if self.merged_duplicates else "")
        )


def merge_rows(
    rows: Iterable[Row | BadRow],
    extra_tags: tuple[str, ...],
    summary: ImportSummary,
    lines_per_address: Mapping[str, int] | None = None,
) -> Iterator[Row]:
    """Good rows merged by address (first spelling kept, names filled in, tags united, opt-outs win),
    in the order of each address's first line.

    With `lines_per_address` (count_addresses), a merged row comes out as soon as its address's
    last line has been read, so the store can write it while the rest of the file is parsed;
    without it, all of them come at the end. Bad rows and duplicates are counted in `summary`.
    Tags end lower-cased, de-duplicated and sorted with `extra_tags` (already clean) added, as
    `clean_tags` gives them: the rows' tags were checked when they were read.
    """
    pending: dict[str, Row] = {}  # merged, not given out yet
    order: deque[str] = deque()  # their keys, first line first
    left = Counter(lines_per_address or {})  # lines still to come per address
    given: set[str] = set()
    extra = frozenset(extra_tags)
    for row in rows:
        if isinstance(row, BadRow):
            summary.bad_rows.append(row)
            continue
        tags = tuple(sorted({t.lower() for t in row.tags} | extra)) if row.tags or extra else ()
        topics = tuple(sorted(row.topics)) if len(row.topics) > 1 else row.topics
        if tags != row.tags or topics != row.topics:
            row = row._replace(tags=tags, topics=topics)
        key = email_key(row.email)
        seen = pending.get(key)
        if seen is None:
            if key in given:  # count_addresses counts every line with an email cell: cannot happen
                raise RuntimeError(f"line {row.line}: an address given out before its last line")
            pending[key] = row
            order.append(key)
        else:
            summary.merged_duplicates += 1
            pending[key] = seen._replace(
                first_name=seen.first_name or row.first_name,
                last_name=seen.last_name or row.last_name,
                tags=tuple(sorted(set(seen.tags) | set(row.tags))),
                topics=tuple(sorted(set(seen.topics) | set(row.topics))),
                status=seen.status or row.status,
                language=seen.language or row.language,
            )
        if lines_per_address is not None:
            left[key] -= 1
            while order and left[order[0]] <= 0:
                given.add(order[0])
                yield pending.pop(order.popleft())
    for key in order:
        yield pending[key]


def import_file(
    store: SubscriberStore,
    path: Path,
    *,
    tags: tuple[str, ...] = (),
    known_topics: tuple[str, ...] = (),
    languages: tuple[str, ...] = DEFAULT_LANGUAGES,
    dry_run: bool = False,
    ignore_columns: bool = False,
    now: dt.datetime | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> ImportSummary:
    """Import a CSV file as one transaction (rolled back for --dry-run or on any error).

    A file with columns we do not recognise and no name column is refused unless `ignore_columns`:
    every row would import without a name, and the names are most likely in those columns.
    `known_topics` are the keys of config [topics]: a row naming another topic is skipped, as is
    a row whose language is none of `languages` (newsletter.languages; the first is the default).
    """
    now = now or utcnow()
    tags = tuple(clean_tags(tags))  # a bad --tag is refused before anything is read
    text, encoding = decode(path)
    columns = read_columns(text)
    # (no email column at all: read_rows says so, naming the columns it found)
    if columns.unrecognised and columns.has_email and not columns.has_name and not ignore_columns:
        raise StoreError(
            f"columns not recognised: {', '.join(columns.unrecognised)}; every row would import with no name",
            path=path,
            line=1,
            hint="rename them (email, first_name, last_name, tags, topics), or add --ignore-columns to import without them",
        )
    summary = ImportSummary(encoding=encoding, dry_run=dry_run, unrecognised_columns=columns.unrecognised)
    # The store writes each merged row while the rest of the file is still being read.
    lines = count_addresses(text)
    counts = store.import_rows(
        merge_rows(read_rows(path, text, known_topics, languages), tags, summary, lines),
        source=f"import:{path.name}",
        dry_run=dry_run,
        now=now,
        on_progress=on_progress,
        expected=len(lines),
        default_language=languages[0],
    )
    summary.added, summary.updated = counts.added, counts.updated
    summary.unchanged, summary.kept_opted_out = counts.unchanged, counts.kept_opted_out
    summary.kept_own_choice = counts.kept_own_choice
    return summary
