"""`subscribers import`: merge a CSV file into the store in one transaction, never reviving an opt-out."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, insert, select, update
from sqlalchemy.orm import Session

from pain_news import db
from pain_news.models import (
    ACTIVE,
    OPTED_OUT,
    Subscriber,
    SubscriberEvent,
    SubscriberTag,
    Suppression,
    utcnow,
)
from pain_news.store import SubscriberStore, _clean_tags, email_hash, email_key
from pain_news.subscribers_csv import BadRow, Row, decode, read_rows

# Core tables: bulk inserts through them skip the ORM's per-row work (the 100,000-row bench).
SUBSCRIBERS = cast(Table, Subscriber.__table__)
TAGS = cast(Table, SubscriberTag.__table__)
EVENTS = cast(Table, SubscriberEvent.__table__)
CHUNK = 2000  # rows per round trip; keeps IN (...) lists and executemany batches moderate


@dataclass
class ImportSummary:
    """What an import did (or, with --dry-run, would do)."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    kept_opted_out: int = 0
    merged_duplicates: int = 0
    bad_rows: list[BadRow] = field(default_factory=list)
    encoding: str = "utf-8"
    dry_run: bool = False

    @property
    def skipped(self) -> int:
        return len(self.bad_rows)

    def summary_line(self) -> str:
        prefix = "dry run, nothing saved: would have " if self.dry_run else ""
        return (
            f"{prefix}added {self.added}, updated {self.updated}, unchanged {self.unchanged}, "
            f"skipped {self.skipped}, kept opted-out {self.kept_opted_out}"
            + (f" ({self.merged_duplicates} duplicate rows merged)" if self.merged_duplicates else "")
        )


def merge_rows(
    rows: Iterable[Row | BadRow], extra_tags: tuple[str, ...], summary: ImportSummary
) -> dict[str, Row]:
    """Good rows merged by address (first spelling kept, names filled in, tags united, opt-outs win)."""
    merged: dict[str, Row] = {}
    for row in rows:
        if isinstance(row, BadRow):
            summary.bad_rows.append(row)
            continue
        row = replace(row, tags=tuple(_clean_tags(row.tags + extra_tags)))
        key = email_key(row.email)
        seen = merged.get(key)
        if seen is None:
            merged[key] = row
            continue
        summary.merged_duplicates += 1
        merged[key] = replace(
            seen,
            first_name=seen.first_name or row.first_name,
            last_name=seen.last_name or row.last_name,
            tags=tuple(sorted(set(seen.tags) | set(row.tags))),
            status=seen.status or row.status,
        )
    return merged


def import_file(
    store: SubscriberStore,
    path: Path,
    *,
    tags: tuple[str, ...] = (),
    dry_run: bool = False,
    now: dt.datetime | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> ImportSummary:
    """Import a CSV file as one transaction (rolled back for --dry-run or on any error)."""
    now = now or utcnow()
    tags = tuple(_clean_tags(tags))  # a bad --tag is refused before anything is read
    text, encoding = decode(path)
    summary = ImportSummary(encoding=encoding, dry_run=dry_run)
    merged = merge_rows(read_rows(path, text), tags, summary)
    source = f"import:{path.name}"
    rows = list(merged.items())
    with db.store_errors(), Session(store.engine) as s:
        s.begin()
        try:
            # PostgreSQL: an opt-out of an address we do not have yet waits for this import and
            # then finds the row it added (store.opt_out_address). SQLite: BEGIN IMMEDIATE.
            store.lock_new_addresses(s)
            for start in range(0, len(rows), CHUNK):
                _apply_chunk(s, dict(rows[start : start + CHUNK]), source, now, summary)
                if on_progress is not None:
                    on_progress(min(start + CHUNK, len(rows)), len(rows))
        except BaseException:  # includes Ctrl-C: an interrupted import leaves the store as it was
            s.rollback()
            raise
        if dry_run:
            s.rollback()
        else:
            s.commit()
    return summary


@dataclass
class _Known:
    """What the store holds for one chunk's addresses, read with the rows locked."""

    existing: dict[str, Any]  # email_key -> result row (id, email_key, status, first_name, last_name)
    suppressed: set[str]
    tags: dict[int, set[str]]


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
            .where(Subscriber.email_key.in_(keys))
            .with_for_update()
        )
    }
    hashes = {email_hash(k): k for k in keys if k not in existing}
    suppressed = {
        hashes[h]
        for h in s.scalars(select(Suppression.email_hash).where(Suppression.email_hash.in_(list(hashes))))
    }
    known_tags: dict[int, set[str]] = {}
    for sid, tag in s.execute(
        select(SubscriberTag.subscriber_id, SubscriberTag.tag).where(
            SubscriberTag.subscriber_id.in_([r.id for r in existing.values()])
        )
    ):
        known_tags.setdefault(sid, set()).add(tag)
    return _Known(existing, suppressed, known_tags)


# Updates never write `status` unless the file opts the person out, and never touch a row that is
# opted out by the time they run: an opt-out is never overwritten, whatever was read before.
# (Plain comparisons: an expanding NOT IN (...) parameter cannot be used with executemany.)
_NOT_OPTED_OUT = and_(*(SUBSCRIBERS.c.status != status for status in OPTED_OUT))
_UPDATE_NAMES = (
    update(SUBSCRIBERS)
    .where(SUBSCRIBERS.c.id == bindparam("sid"), _NOT_OPTED_OUT)
    .values(first_name=bindparam("first"), last_name=bindparam("last"))
)
_UPDATE_OPT_OUT = (
    update(SUBSCRIBERS)
    .where(SUBSCRIBERS.c.id == bindparam("sid"), _NOT_OPTED_OUT)
    .values(
        first_name=bindparam("first"),
        last_name=bindparam("last"),
        status=bindparam("new_status"),
        status_changed_at=bindparam("at"),
        opted_out_at=bindparam("at"),
        opt_out_method="manual",
    )
)


def _apply_chunk(
    s: Session, chunk: dict[str, Row], source: str, now: dt.datetime, summary: ImportSummary
) -> None:
    known = _read_known(s, list(chunk))
    new_rows: list[Row] = []
    name_updates: list[dict[str, object]] = []
    opt_outs: list[dict[str, object]] = []
    new_tags: list[dict[str, object]] = []
    events: list[dict[str, object]] = []
    for key, row in chunk.items():
        old = known.existing.get(key)
        if old is None:
            if key in known.suppressed:
                summary.kept_opted_out += 1  # deleted or opted out elsewhere: never re-added
            else:
                new_rows.append(row)
            continue
        if old.status in OPTED_OUT:
            summary.kept_opted_out += 1  # sacred: not reactivated, not even touched
            continue
        first = row.first_name or old.first_name
        last = row.last_name or old.last_name
        added_tags = set(row.tags) - known.tags.get(old.id, set())
        changed = first != old.first_name or last != old.last_name or added_tags or row.status
        if not changed:
            summary.unchanged += 1
            continue
        summary.updated += 1
        values: dict[str, object] = {"sid": old.id, "first": first, "last": last}
        if row.status:  # the file itself records an opt-out (e.g. an export from another list)
            opt_outs.append({**values, "new_status": row.status, "at": now})
            events.append(_event(old.id, old.status, row.status, now, f"opt-out recorded in {source}"))
        else:
            name_updates.append(values)
            events.append(_event(old.id, old.status, old.status, now, f"updated from {source}"))
        new_tags.extend({"subscriber_id": old.id, "tag": t} for t in sorted(added_tags))

    if name_updates:
        s.execute(_UPDATE_NAMES, name_updates)
    if opt_outs:
        s.execute(_UPDATE_OPT_OUT, opt_outs)
    if new_rows:
        s.execute(
            insert(SUBSCRIBERS),
            [
                {
                    "email": r.email,
                    "email_key": email_key(r.email),
                    "first_name": r.first_name,
                    "last_name": r.last_name,
                    "status": r.status or ACTIVE,
                    "source": source[:300],
                    "created_at": now,
                    "status_changed_at": now,
                    "opted_out_at": now if r.status else None,
                    "opt_out_method": "manual" if r.status else None,
                }
                for r in new_rows
            ],
        )
        ids = {
            key: sid
            for key, sid in s.execute(
                select(Subscriber.email_key, Subscriber.id).where(
                    Subscriber.email_key.in_([email_key(r.email) for r in new_rows])
                )
            )
        }
        for r in new_rows:
            sid = ids[email_key(r.email)]
            events.append(_event(sid, None, r.status or ACTIVE, now, f"imported from {source}"))
            new_tags.extend({"subscriber_id": sid, "tag": t} for t in r.tags)
        summary.added += len(new_rows)
    if new_tags:
        s.execute(insert(TAGS), new_tags)
    if events:
        s.execute(insert(EVENTS), events)


def _event(sid: int, old: str | None, new: str, now: dt.datetime, detail: str) -> dict[str, object]:
    return {
        "subscriber_id": sid,
        "at": now,
        "old_status": old,
        "new_status": new,
        "method": "import",
        "campaign_id": None,
        "detail": detail,
    }
