"""The bulk import: merged CSV rows into the store in one transaction, never reviving an opt-out."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Table, and_, bindparam, insert, select, text, update
from sqlalchemy.orm import Session

from pain_news import db
from pain_news.models import ACTIVE, OPTED_OUT, Subscriber, SubscriberTag, utcnow
from pain_news.store_core import (
    CHUNK,
    HISTORY,
    SUBSCRIBERS,
    TAGS,
    StatusChange,
    StoreBase,
    email_hash,
    email_key,
    history_row,
    is_postgresql,
    one_of,
    pg_array,
    suppressed_hashes,
    write_status_changes,
)
from pain_news.store_topics import topics_of, write_topic_changes


class ImportRow(Protocol):
    """One merged row of an import file (subscribers_csv.Row)."""

    @property
    def email(self) -> str: ...
    @property
    def first_name(self) -> str: ...
    @property
    def last_name(self) -> str: ...
    @property
    def tags(self) -> tuple[str, ...]: ...
    @property
    def status(self) -> str: ...  # "" or an opt-out status the file itself records
    @property
    def topics(self) -> tuple[str, ...]: ...  # keys of config [topics], already checked


@dataclass
class ImportCounts:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    kept_opted_out: int = 0


class ImportMixin(StoreBase):
    """`subscribers import`, as one store method."""

    def import_rows(
        self,
        rows: Sequence[ImportRow],
        *,
        source: str,
        dry_run: bool = False,
        now: dt.datetime | None = None,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> ImportCounts:
        """Merge rows (one per address) as one transaction, rolled back for a dry run or on any error.

        Opted-out and suppressed addresses are never reactivated or re-added; a file that records
        an opt-out applies it through the one status-change path.
        """
        now = now or utcnow()
        counts = ImportCounts()
        with db.store_errors(), Session(self.engine) as s:
            s.begin()
            try:
                # PostgreSQL: an opt-out of an address we do not have yet waits for this import and
                # then finds the row it added (store.opt_out_address). SQLite: BEGIN IMMEDIATE.
                self.lock_new_addresses(s)
                for start in range(0, len(rows), CHUNK):
                    _apply_chunk(s, rows[start : start + CHUNK], source[:300], now, counts)
                    if on_progress is not None:
                        on_progress(min(start + CHUNK, len(rows)), len(rows))
            except BaseException:  # includes Ctrl-C: an interrupted import leaves the store as it was
                s.rollback()
                raise
            if dry_run:
                s.rollback()
            else:
                s.commit()
        return counts


@dataclass
class _Known:
    """What the store holds for one chunk's addresses, read with the rows locked."""

    existing: dict[str, Any]  # email_key -> result row (id, email_key, status, first_name, last_name)
    suppressed: set[str]
    tags: dict[int, set[str]]
    topics: dict[int, set[str]]


def _read_known(s: Session, keys: list[str]) -> _Known:
    """Existing rows locked until commit (FOR UPDATE on PostgreSQL), so no opt-out can land between
    this read and the writes below; on SQLite the import already holds the write lock."""
    existing = {
        r.email_key: r
        for r in s.execute(
            select(
                Subscriber.id,
                Subscriber.email_key,
                Subscriber.status,
                Subscriber.first_name,
                Subscriber.last_name,
            )
            .where(one_of(s, Subscriber.email_key, keys))
            .order_by(Subscriber.id)
            .with_for_update()
        )
    }
    hashes = {email_hash(k): k for k in keys if k not in existing}
    suppressed = {hashes[h] for h in suppressed_hashes(s, list(hashes))}
    known_tags: dict[int, set[str]] = {}
    if existing:
        for sid, tag in s.execute(
            select(SubscriberTag.subscriber_id, SubscriberTag.tag).where(
                one_of(s, SubscriberTag.subscriber_id, [r.id for r in existing.values()])
            )
        ):
            known_tags.setdefault(sid, set()).add(tag)
    known_topics = topics_of(s, [r.id for r in existing.values()]) if existing else {}
    return _Known(existing, suppressed, known_tags, known_topics)


# Name updates never touch a row that is opted out by the time they run (the rows are locked, so
# this only ever backs that up). Plain comparisons: an expanding NOT IN cannot be used with executemany.
_UPDATE_NAMES = (
    update(SUBSCRIBERS)
    .where(SUBSCRIBERS.c.id == bindparam("sid"), and_(*(SUBSCRIBERS.c.status != st for st in OPTED_OUT)))
    .values(first_name=bindparam("first"), last_name=bindparam("last"))
)


@dataclass
class _Plan:
    """The writes one chunk needs."""

    new_rows: list[ImportRow]
    name_updates: list[dict[str, object]]
    opt_outs: list[StatusChange]
    tags: list[dict[str, object]]
    history: list[dict[str, object]]
    topics: dict[int, tuple[set[str], set[str]]]  # subscriber id -> (old, new) topics
    statuses: dict[int, str]


def _plan_chunk(
    chunk: Sequence[ImportRow], known: _Known, source: str, now: dt.datetime, counts: ImportCounts
) -> _Plan:
    plan = _Plan([], [], [], [], [], {}, {})
    for row in chunk:
        key = email_key(row.email)
        old = known.existing.get(key)
        if old is None:
            if key in known.suppressed:
                counts.kept_opted_out += 1  # deleted or opted out elsewhere: never re-added
            else:
                plan.new_rows.append(row)
            continue
        if old.status in OPTED_OUT:
            counts.kept_opted_out += 1  # sacred: not reactivated, not even touched
            continue
        first = row.first_name or old.first_name
        last = row.last_name or old.last_name
        added_tags = set(row.tags) - known.tags.get(old.id, set())
        had_topics = known.topics.get(old.id, set())
        if not set(row.topics) <= had_topics:  # topics in the file are added, never taken away
            plan.topics[old.id] = (had_topics, had_topics | set(row.topics))
            plan.statuses[old.id] = row.status or old.status
        if not (first != old.first_name or last != old.last_name or added_tags or row.status):
            counts.unchanged += old.id not in plan.topics
            counts.updated += old.id in plan.topics
            continue
        counts.updated += 1
        plan.name_updates.append({"sid": old.id, "first": first, "last": last})
        if row.status:  # the file itself records an opt-out (e.g. an export from another list)
            plan.opt_outs.append(
                StatusChange(old.id, old.status, row.status, "import", detail=f"opt-out recorded in {source}")
            )
        else:
            plan.history.append(
                history_row(old.id, old.status, old.status, "import", now, f"updated from {source}")
            )
        plan.tags.extend({"subscriber_id": old.id, "tag": t} for t in sorted(added_tags))
    return plan


def _apply_chunk(
    s: Session, chunk: Sequence[ImportRow], source: str, now: dt.datetime, counts: ImportCounts
) -> None:
    known = _read_known(s, [email_key(r.email) for r in chunk])
    plan = _plan_chunk(chunk, known, source, now, counts)
    if plan.name_updates:
        s.execute(_UPDATE_NAMES, plan.name_updates)
    write_status_changes(s, plan.opt_outs, now)
    if plan.new_rows and is_postgresql(s):
        _insert_new_pg(s, plan.new_rows, source, now)  # with their history rows and tags
        counts.added += len(plan.new_rows)
        with_topics = [r for r in plan.new_rows if r.topics]
        if with_topics:
            ids = _ids_of(s, [email_key(r.email) for r in with_topics])
            for r in with_topics:
                plan.topics[ids[email_key(r.email)]] = (set(), set(r.topics))
                plan.statuses[ids[email_key(r.email)]] = r.status or ACTIVE
    elif plan.new_rows:
        ids = _insert_new(s, plan.new_rows, source, now)
        for r in plan.new_rows:
            sid = ids[email_key(r.email)]
            plan.history.append(
                history_row(sid, None, r.status or ACTIVE, "import", now, f"imported from {source}")
            )
            plan.tags.extend({"subscriber_id": sid, "tag": t} for t in r.tags)
            if r.topics:
                plan.topics[sid] = (set(), set(r.topics))
                plan.statuses[sid] = r.status or ACTIVE
        counts.added += len(plan.new_rows)
    _insert_all(s, TAGS, plan.tags)
    _insert_all(s, HISTORY, plan.history)
    write_topic_changes(s, plan.topics, plan.statuses, now, source)


def _ids_of(s: Session, keys: list[str]) -> dict[str, int]:
    """Subscriber ids by email key."""
    query = select(Subscriber.email_key, Subscriber.id).where(one_of(s, Subscriber.email_key, keys))
    return {key: sid for key, sid in s.execute(query)}


def _insert_all(s: Session, table: Table, rows: list[dict[str, object]]) -> None:
    """Tags or import history rows (method "import", all at one time) in one statement per chunk."""
    if not rows:
        return
    if not is_postgresql(s):
        s.execute(insert(table), rows)
    elif table is TAGS:
        tags = {"sid": pg_array(r["subscriber_id"] for r in rows), "tag": pg_array(r["tag"] for r in rows)}
        s.execute(_INSERT_TAGS_PG, tags)
    else:
        columns = {"sid": "subscriber_id", "old": "old_status", "new": "new_status", "detail": "detail"}
        arrays = {name: pg_array(r[column] for r in rows) for name, column in columns.items()}
        s.execute(_INSERT_HISTORY_PG, {**arrays, "now": rows[0]["at"], "method": "import"})


# New rows, their "imported" history rows and their tags in one statement: the history and tags
# come from the subscriber insert's RETURNING, so only the subscribers' own columns are sent.
_INSERT_NEW_PG = text(
    "WITH new AS (INSERT INTO subscribers (email, email_key, first_name, last_name, status, source, "
    "created_at, status_changed_at, opted_out_at, opt_out_method) "
    "SELECT e, k, f, l, st, :source, :now, :now, CASE WHEN st = 'active' THEN NULL ELSE :now END, "
    "CASE WHEN st = 'active' THEN NULL ELSE 'manual' END "
    "FROM unnest(CAST(:e AS text[]), CAST(:k AS text[]), CAST(:f AS text[]), CAST(:l AS text[]), "
    "CAST(:st AS text[])) AS t(e, k, f, l, st) RETURNING id, email_key, status), "
    "history AS (INSERT INTO subscriber_events (subscriber_id, at, old_status, new_status, method, "
    "campaign_id, detail) SELECT id, :now, NULL, status, 'import', NULL, :detail FROM new) "
    "INSERT INTO subscriber_tags (subscriber_id, tag) SELECT new.id, t.tag FROM new "
    "JOIN unnest(CAST(:tag_key AS text[]), CAST(:tag AS text[])) AS t(k, tag) ON t.k = new.email_key"
)
_INSERT_TAGS_PG = text(
    "INSERT INTO subscriber_tags (subscriber_id, tag) "
    "SELECT * FROM unnest(CAST(:sid AS integer[]), CAST(:tag AS text[]))"
)
_INSERT_HISTORY_PG = text(
    "INSERT INTO subscriber_events (subscriber_id, at, old_status, new_status, method, campaign_id, detail) "
    "SELECT sid, :now, old, new, :method, NULL, detail FROM unnest(CAST(:sid AS integer[]), "
    "CAST(:old AS text[]), CAST(:new AS text[]), CAST(:detail AS text[])) AS t(sid, old, new, detail)"
)


def _insert_new_pg(s: Session, rows: Sequence[ImportRow], source: str, now: dt.datetime) -> None:
    keys = [email_key(r.email) for r in rows]
    tagged = [(key, tag) for key, r in zip(keys, rows, strict=True) for tag in r.tags]
    arrays = {
        "e": pg_array(r.email for r in rows),
        "k": pg_array(keys),
        "f": pg_array(r.first_name for r in rows),
        "l": pg_array(r.last_name for r in rows),
        "st": pg_array(r.status or ACTIVE for r in rows),
        "tag_key": pg_array(key for key, _ in tagged),
        "tag": pg_array(tag for _, tag in tagged),
    }
    s.execute(_INSERT_NEW_PG, {**arrays, "source": source, "now": now, "detail": f"imported from {source}"})


def _insert_new(s: Session, rows: Sequence[ImportRow], source: str, now: dt.datetime) -> dict[str, int]:
    """Insert new subscribers (SQLite: executemany); their ids by email key."""
    values = [
        {
            "email": r.email,
            "email_key": email_key(r.email),
            "first_name": r.first_name,
            "last_name": r.last_name,
            "status": r.status or ACTIVE,
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
