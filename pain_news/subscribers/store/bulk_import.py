"""The bulk import: merged CSV rows into the store in one transaction, never reviving an opt-out."""

from __future__ import annotations

import datetime as dt
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence, Sized
from itertools import islice

from sqlalchemy import Engine, Table, and_, bindparam, insert, select, text, update
from sqlalchemy.orm import Session

from pain_news import db
from pain_news.db.models import Subscriber
from pain_news.errors import StoreConflict
from pain_news.mailbox import spellings
from pain_news.subscribers.store.core import (
    CHUNK,
    HISTORY,
    SUBSCRIBERS,
    TAGS,
    email_key,
    history_row,
    lock_new_addresses,
    one_of,
    pg_array,
    suppressed_keys,
    write_status_changes,
)
from pain_news.subscribers.store.import_rules import (
    ImportCounts,
    ImportPlan,
    ImportRow,
    plan_chunk,
    plan_new_topics,
)
from pain_news.subscribers.store.import_rules import (
    read_known as read_known,  # re-exported: tests race an opt-out against this read
)
from pain_news.subscribers.store.topics import write_topic_changes
from pain_news.vocab import ACTIVE, OPTED_OUT


def import_rows(
    engine: Engine,
    rows: Iterable[ImportRow],
    source: str,
    dry_run: bool,
    now: dt.datetime,
    on_progress: Callable[[int, int], None] | None,
    expected: int | None,
    default_language: str = "en",
) -> ImportCounts:
    """Merge rows (one per address) as one transaction, rolled back for a dry run or on any error.

    Opted-out and suppressed addresses are never reactivated or re-added; a file that records
    an opt-out applies it through the one status-change path. `rows` may be an iterator that
    parses a file as it goes: it is read a chunk at a time, and on PostgreSQL each chunk is
    written while the next is read. `on_progress(done, total)` follows each chunk written;
    `total` is `expected` (for an iterator) or len(rows).
    """
    counts = ImportCounts()
    total = len(rows) if expected is None and isinstance(rows, Sized) else (expected or 0)

    def progress(done: int) -> None:
        if on_progress is not None:
            on_progress(done, max(done, total))

    with db.store_errors(), Session(engine) as s:
        s.begin()
        try:
            # PostgreSQL: an opt-out of an address we do not have yet waits for this import and
            # then finds the row it added (statuses.opt_out_address). SQLite: BEGIN IMMEDIATE.
            lock_new_addresses(s)
            if db.is_postgresql(s):
                _import_pg(s, _chunks(rows), source[:300], now, counts, progress, default_language)
            else:
                done = 0
                for chunk in _chunks(rows):
                    _apply_chunk(s, chunk, source[:300], now, counts, default_language)
                    done += len(chunk)
                    progress(done)
        except BaseException:  # includes Ctrl-C: an interrupted import leaves the store as it was
            s.rollback()
            raise
        if dry_run:
            s.rollback()
        else:
            s.commit()
    return counts


def _chunks(rows: Iterable[ImportRow]) -> Iterator[list[ImportRow]]:
    it = iter(rows)
    while chunk := list(islice(it, CHUNK)):
        yield chunk


# Name updates never touch a row that is opted out by the time they run (the rows are locked, so
# this only ever backs that up). Plain comparisons: an expanding NOT IN cannot be used with executemany.
_UPDATE_NAMES = (
    update(SUBSCRIBERS)
    .where(SUBSCRIBERS.c.id == bindparam("sid"), and_(*(SUBSCRIBERS.c.status != st for st in OPTED_OUT)))
    .values(first_name=bindparam("first"), last_name=bindparam("last"), language=bindparam("lang"))
)


def _apply_chunk(
    s: Session,
    chunk: Sequence[ImportRow],
    source: str,
    now: dt.datetime,
    counts: ImportCounts,
    default_language: str,
) -> None:
    """SQLite: one chunk read, planned and written."""
    keys = [email_key(r.email) for r in chunk]
    known = read_known(s, keys)
    plan = plan_chunk(chunk, keys, known, source, now, counts)
    _write_existing(s, plan, now)
    if plan.new_rows:
        ids = _insert_new(s, plan.new_rows, source, now, default_language)
        for r in plan.new_rows:
            sid = ids[email_key(r.email)]
            plan.history.append(
                history_row(sid, None, r.status or ACTIVE, "import", now, f"imported from {source}")
            )
            plan.tags.extend({"subscriber_id": sid, "tag": t} for t in r.tags)
            plan_new_topics(plan, sid, r)
        counts.added += len(plan.new_rows)
    _write_rest(s, plan, now, source)


def _write_existing(s: Session, plan: ImportPlan, now: dt.datetime) -> None:
    """Name updates and opt-outs recorded in the file, for rows the store already holds."""
    if plan.name_updates:
        s.execute(_UPDATE_NAMES, plan.name_updates)
    write_status_changes(s, plan.opt_outs, now)


def _write_rest(s: Session, plan: ImportPlan, now: dt.datetime, source: str) -> None:
    """Added tags, "updated" history rows and topic changes."""
    _insert_all(s, TAGS, plan.tags)
    _insert_all(s, HISTORY, plan.history)
    write_topic_changes(s, plan.topics, plan.statuses, now, source)


def _import_pg(
    s: Session,
    chunks: Iterator[list[ImportRow]],
    source: str,
    now: dt.datetime,
    counts: ImportCounts,
    progress: Callable[[int], None],
    default_language: str,
) -> None:
    """PostgreSQL: a second thread reads, plans and writes each chunk while this one takes the next
    from `chunks` (parsing the file) and prepares it: psycopg lets go of the GIL while the server
    works, so the parsing overlaps the server's work. Progress is reported here, in order, and the
    writer's error raised here; on any error the writer stops before the caller rolls back."""
    writer = _Writer(s, source, now, default_language)
    try:
        for chunk in chunks:
            # The insert's arrays, as if every row were new (what a large import mostly is), are
            # built here: the writer, whose every step waits for the server, only sends them.
            keys = [email_key(r.email) for r in chunk]
            writer.put((chunk, keys, _new_rows_arrays(chunk, keys, default_language)))
            writer.report(progress, wait=False)
        writer.put(None)
        writer.report(progress, wait=True)
    finally:
        writer.stop()
    counts.added += writer.counts.added
    counts.updated += writer.counts.updated
    counts.unchanged += writer.counts.unchanged
    counts.kept_opted_out += writer.counts.kept_opted_out
    counts.kept_own_choice += writer.counts.kept_own_choice


class _Writer:
    """The thread that writes an import's chunks on its session, one after another."""

    def __init__(self, s: Session, source: str, now: dt.datetime, default_language: str) -> None:
        self.default_language = default_language
        self.s, self.source, self.now = s, source, now
        self.counts = ImportCounts()
        # Up to 64 chunks ahead (128,000 rows with their arrays): a file parses faster than the
        # server writes it, and a very large one must not end up in memory twice. None: no more.
        self.jobs: queue.Queue[_Job | None] = queue.Queue(maxsize=64)
        self.done: queue.Queue[int | BaseException | None] = queue.Queue()  # rows written so far
        self.cancelled = threading.Event()
        self.thread = threading.Thread(target=self._run, name="pain-news-import", daemon=True)
        self.thread.start()

    def put(self, job: _Job | None) -> None:
        """Queue a chunk (None: the last was queued); waits while 64 are waiting."""
        self.jobs.put(job)

    def report(self, progress: Callable[[int], None], *, wait: bool) -> None:
        """Call `progress` for each chunk written since the last call; raise the writer's error.
        With `wait`, until the writer has finished."""
        while True:
            try:
                item = self.done.get(block=wait)
            except queue.Empty:
                return
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            progress(item)

    def stop(self) -> None:
        """Let the writer finish the statement it is in and end (it skips what is still queued)."""
        self.cancelled.set()
        if not self.thread.is_alive():
            return
        self.jobs.put(None)  # the writer drains the queue after an error, so this never waits long
        interrupted = False
        while self.thread.is_alive():  # the caller rolls back on this session: never while it writes
            try:
                self.thread.join()
            except KeyboardInterrupt:
                interrupted = True
        if interrupted:
            raise KeyboardInterrupt

    def _run(self) -> None:
        written = 0
        try:
            while (job := self.jobs.get()) is not None:
                if self.cancelled.is_set():
                    continue
                _apply_chunk_pg(self.s, *job, self.source, self.now, self.counts, self.default_language)
                written += len(job[1])
                self.done.put(written)
        except BaseException as exc:  # raised in the importing thread by report()
            self.done.put(exc)
            while self.jobs.get() is not None:  # never leave put() waiting
                pass
            return
        self.done.put(None)


_Job = tuple[list[ImportRow], list[str], dict[str, str]]  # a chunk, its keys, its rows' arrays


def _apply_chunk_pg(
    s: Session,
    chunk: Sequence[ImportRow],
    keys: list[str],
    arrays: dict[str, str],
    source: str,
    now: dt.datetime,
    counts: ImportCounts,
    default_language: str,
) -> None:
    """PostgreSQL: one chunk written. Its new addresses go in first, in one statement that skips
    the ones the store holds or has suppressed and names them; only those are then read, locked,
    planned and updated (a large import of new addresses reads nothing)."""
    # The insert checks each key's own hash; an address with other spellings (an international
    # domain, a non-ASCII local part) may be suppressed under an older key's hash: kept out here.
    older = suppressed_keys(s, [k for k in keys if len(spellings(k)) > 1])
    if older:
        rows = [(r, k) for r, k in zip(chunk, keys, strict=True) if k not in older]
        counts.kept_opted_out += len(chunk) - len(rows)
        chunk, keys = [r for r, _ in rows], [k for _, k in rows]
        arrays = _new_rows_arrays(chunk, keys, default_language)
    params = {**arrays, "source": source, "now": now, "detail": f"imported from {source}"}
    skipped = set(s.scalars(_INSERT_NEW_PG, params))
    counts.added += len(chunk) - len(skipped)
    with_topics = [(r, k) for r, k in zip(chunk, keys, strict=True) if r.topics and k not in skipped]
    rest = [(r, k) for r, k in zip(chunk, keys, strict=True) if k in skipped]
    known = read_known(s, [k for _, k in rest])
    plan = plan_chunk([r for r, _ in rest], [k for _, k in rest], known, source, now, counts)
    if plan.new_rows:  # held when the insert ran, neither held nor suppressed now: never (delete suppresses)
        raise StoreConflict(
            "an address being imported was deleted at the same time; nothing was saved",
            hint="run the import again",
        )
    _write_existing(s, plan, now)
    if with_topics:
        ids = _ids_of(s, [k for _, k in with_topics])
        for r, k in with_topics:
            plan_new_topics(plan, ids[k], r)
    _write_rest(s, plan, now, source)


def _ids_of(s: Session, keys: list[str]) -> dict[str, int]:
    """Subscriber ids by email key."""
    query = select(Subscriber.email_key, Subscriber.id).where(one_of(s, Subscriber.email_key, keys))
    return {key: sid for key, sid in s.execute(query)}


def _insert_all(s: Session, table: Table, rows: list[dict[str, object]]) -> None:
    """Tags or import history rows (method "import", all at one time) in one statement per chunk."""
    if not rows:
        return
    if not db.is_postgresql(s):
        s.execute(insert(table), rows)
    elif table is TAGS:
        tags = {"sid": pg_array(r["subscriber_id"] for r in rows), "tag": pg_array(r["tag"] for r in rows)}
        s.execute(_INSERT_TAGS_PG, tags)
    else:
        columns = {"sid": "subscriber_id", "old": "old_status", "new": "new_status", "detail": "detail"}
        arrays = {name: pg_array(r[column] for r in rows) for name, column in columns.items()}
        s.execute(_INSERT_HISTORY_PG, {**arrays, "now": rows[0]["at"], "method": "import"})


_INSERT_TAGS_PG = text(
    "INSERT INTO subscriber_tags (subscriber_id, tag) "
    "SELECT * FROM unnest(CAST(:sid AS integer[]), CAST(:tag AS text[]))"
)
_INSERT_HISTORY_PG = text(
    "INSERT INTO subscriber_events (subscriber_id, at, old_status, new_status, method, campaign_id, detail) "
    "SELECT sid, :now, old, new, :method, NULL, detail FROM unnest(CAST(:sid AS integer[]), "
    "CAST(:old AS text[]), CAST(:new AS text[]), CAST(:detail AS text[])) AS t(sid, old, new, detail)"
)


# New addresses, their "imported" history rows and their tags in one statement: the history and
# tags come from the insert's RETURNING, so only the subscribers' own columns are sent. An address
# the store holds or has suppressed is skipped (before it takes an id from the sequence) and comes
# back in the result, for the caller to read and lock. Each is looked up through its unique index
# (a scalar subquery: NOT EXISTS becomes a hash anti join that scans the whole table for every
# chunk whenever the planner thinks the table small, as it does while an import fills it). An address added meanwhile by a
# writer that does not wait for lock_new_addresses (a signup) fails the import on the unique key,
# as it always has (StoreConflict, nothing saved); no ON CONFLICT, whose speculative insertion
# costs more than the check. Rows go in in file order (ORDER BY n), so ids follow the file.
_INSERT_NEW_PG = text(
    "WITH t AS (SELECT * FROM unnest(CAST(:e AS text[]), CAST(:k AS text[]), CAST(:f AS text[]), "
    "CAST(:l AS text[]), CAST(:st AS text[]), CAST(:lang AS text[])) "
    "WITH ORDINALITY AS t(e, k, f, l, st, lang, n)), "
    "new AS (INSERT INTO subscribers (email, email_key, first_name, last_name, status, language, source, "
    "created_at, status_changed_at, opted_out_at, opt_out_method) "
    "SELECT e, k, f, l, st, lang, :source, :now, :now, CASE WHEN st = 'active' THEN NULL ELSE :now END, "
    "CASE WHEN st = 'active' THEN NULL ELSE 'manual' END FROM t "
    "WHERE (SELECT s.id FROM subscribers s WHERE s.email_key = t.k) IS NULL "
    "AND (SELECT p.id FROM suppressions p "
    "WHERE p.email_hash = encode(sha256(convert_to(t.k, 'UTF8')), 'hex')) IS NULL "
    "ORDER BY n RETURNING id, email_key, status), "
    "history AS (INSERT INTO subscriber_events (subscriber_id, at, old_status, new_status, method, "
    "campaign_id, detail) SELECT id, :now, NULL, status, 'import', NULL, :detail FROM new), "
    "tags AS (INSERT INTO subscriber_tags (subscriber_id, tag) SELECT new.id, g.tag FROM new "
    "JOIN unnest(CAST(:tag_key AS text[]), CAST(:tag AS text[])) AS g(k, tag) ON g.k = new.email_key) "
    "SELECT k FROM t WHERE NOT EXISTS (SELECT 1 FROM new WHERE new.email_key = t.k)"
)


def _new_rows_arrays(rows: Sequence[ImportRow], keys: Sequence[str], default_language: str) -> dict[str, str]:
    """The array parameters of _INSERT_NEW_PG for these rows and their email keys."""
    tagged = [(key, tag) for key, r in zip(keys, rows, strict=True) for tag in r.tags]
    return {
        "e": pg_array(r.email for r in rows),
        "k": pg_array(keys),
        "f": pg_array(r.first_name for r in rows),
        "l": pg_array(r.last_name for r in rows),
        "st": pg_array(r.status or ACTIVE for r in rows),
        "lang": pg_array(r.language or default_language for r in rows),
        "tag_key": pg_array(key for key, _ in tagged),
        "tag": pg_array(tag for _, tag in tagged),
    }


def _insert_new(
    s: Session, rows: Sequence[ImportRow], source: str, now: dt.datetime, default_language: str
) -> dict[str, int]:
    """Insert new subscribers (SQLite: executemany); their ids by email key."""
    values = [
        {
            "email": r.email,
            "email_key": email_key(r.email),
            "first_name": r.first_name,
            "last_name": r.last_name,
            "status": r.status or ACTIVE,
            "language": r.language or default_language,
            "source": source,
            "created_at": now,
            "status_changed_at": now,
            "opted_out_at": now if r.status else None,
            "opt_out_method": "manual" if r.status else None,
        }
        for r in rows
    ]
    keys = [v["email_key"] for v in values]
    s.execute(insert(SUBSCRIBERS), values)
    query = select(Subscriber.email_key, Subscriber.id).where(Subscriber.email_key.in_(keys))
    return {key: sid for key, sid in s.execute(query)}
