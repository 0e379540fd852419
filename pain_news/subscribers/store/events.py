"""What the provider reports back, in bulk: webhook event batches and suppression-list syncs.

A batch is one transaction: a 1,000-event webhook post or a 10,000-address suppression list
costs a handful of statements, not one commit per row (every commit waits for the disk:
docs/design/dependency-traps.md). Opt-outs go through the store's one status-change path with
their history rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, cast

from sqlalchemy import Table, select, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from pain_news import db
from pain_news.db.models import DeliveryEvent, Subscriber
from pain_news.subscribers.store.core import (
    CHUNK,
    StatusChange,
    control_character,
    email_key,
    lock_new_addresses,
    one_of,
    pg_array,
    suppress_many,
    write_status_changes,
)
from pain_news.vocab import OPTED_OUT, UNSUBSCRIBED

DELIVERY_EVENTS = cast(Table, DeliveryEvent.__table__)


@dataclass(frozen=True)
class IncomingEvent:
    """One provider event, already checked: text fits its column, `email` is a valid address or None."""

    sg_event_id: str
    kind: str  # delivered, open, click, bounce, ...
    occurred_at: dt.datetime
    campaign_id: int | None
    email: str | None
    opt_out: str | None  # the status it means (unsubscribed, bounced, complained), or None
    detail: str = ""  # kept with the event (reason, type, url)
    opt_out_detail: str = ""  # written to the subscriber's history


@dataclass(frozen=True)
class EventBatchResult:
    applied: int  # status changes made
    recorded: int  # events stored
    repeated: int  # sg_event_ids seen before, or twice in this batch


@dataclass(frozen=True)
class OptOutResult:
    changed: int  # subscribers whose status changed
    suppressed_unknown: int  # addresses we do not have, suppressed for good


class _OptOut(NamedTuple):
    email: str
    status: str
    method: str
    campaign_id: int | None
    detail: str


class _Known(NamedTuple):
    id: int
    status: str


class _Outcome(NamedTuple):
    changed: int
    unknown: int
    ids: dict[str, int]  # email key -> subscriber id of the known addresses


def apply_delivery_events(s: Session, events: Sequence[IncomingEvent], now: dt.datetime) -> EventBatchResult:
    """Apply a webhook batch: opt-outs first, then each new sg_event_id once (see
    SubscriberStore.apply_delivery_events)."""
    unique = list({e.sg_event_id: e for e in reversed(events)}.values())[::-1]  # first of each id
    seen = _existing_event_ids(s, [e.sg_event_id for e in unique])
    fresh = [e for e in unique if e.sg_event_id not in seen]
    outs = [
        _OptOut(e.email, e.opt_out, "webhook", e.campaign_id, e.opt_out_detail)
        for e in fresh
        if e.opt_out and e.email
    ]
    done = _opt_out_many(s, outs, now)
    others = {email_key(e.email) for e in fresh if e.email} - done.ids.keys()
    ids = {key: known.id for key, known in _subscribers(s, others, lock=False).items()}
    ids.update(done.ids)
    rows = [
        {
            "sg_event_id": e.sg_event_id,
            "event": e.kind,
            "campaign_id": e.campaign_id,
            "subscriber_id": ids.get(email_key(e.email)) if e.email else None,
            "occurred_at": e.occurred_at,
            "detail": e.detail,
        }
        for e in fresh
    ]
    recorded = _insert_events(s, rows)
    return EventBatchResult(done.changed, recorded, len(events) - recorded)


def opt_out_addresses(
    s: Session, emails: Iterable[str], status: str, method: str, detail: str, now: dt.datetime
) -> OptOutResult:
    """Opt out many addresses; unknown ones are suppressed so no import adds them."""
    if status not in OPTED_OUT:
        raise ValueError(f"bad opt-out {status!r}")
    done = _opt_out_many(s, [_OptOut(e, status, method, None, detail) for e in emails], now)
    return OptOutResult(done.changed, done.unknown)


def record_delivery_event(
    s: Session,
    sg_event_id: str,
    event: str,
    occurred_at: dt.datetime,
    campaign_id: int | None,
    subscriber_id: int | None,
    detail: str,
) -> bool:
    """Store one provider event once; False when this sg_event_id was already seen."""
    row = {
        "sg_event_id": sg_event_id,
        "event": event,
        "campaign_id": campaign_id,
        "subscriber_id": subscriber_id,
        "occurred_at": occurred_at,
        "detail": detail,
    }
    return _insert_events(s, [row]) == 1


def _opt_out_many(s: Session, outs: Sequence[_OptOut], now: dt.datetime) -> _Outcome:
    """Apply opt-outs in order through the one status-change path.

    Same rules as `opt_out`: repeating changes nothing, a complaint or bounce is never turned
    back into an unsubscribe. Rows are locked before deciding (no stale overwrite), and an
    address we do not have waits for an import that may be adding it (the new-address lock,
    taken before any row lock so the two never wait for each other).
    """
    # An address with a control character cannot be a subscriber (and PostgreSQL refuses NUL).
    keys = {email_key(o.email) for o in outs if not control_character(o.email)}
    if keys - _subscribers(s, keys, lock=False).keys():
        lock_new_addresses(s)
    known = _subscribers(s, keys, lock=True)
    current = {key: k.status for key, k in known.items()}
    changes: list[StatusChange] = []
    unknown: dict[str, list[str]] = {}  # suppression reason -> addresses
    for out in outs:
        key = email_key(out.email)
        if key not in known:
            unknown.setdefault(f"{out.method}:{out.status}", []).append(out.email)
            continue
        status = current[key]
        if status == out.status or (status in OPTED_OUT and out.status == UNSUBSCRIBED):
            continue
        changes.append(
            StatusChange(known[key].id, status, out.status, out.method, out.campaign_id, out.detail)
        )
        current[key] = out.status
    write_status_changes(s, changes, now)
    for reason, emails in unknown.items():
        suppress_many(s, emails, reason, now)
    ids = {key: k.id for key, k in known.items()}
    return _Outcome(len(changes), sum(len(e) for e in unknown.values()), ids)


def _subscribers(s: Session, keys: Iterable[str], *, lock: bool) -> dict[str, _Known]:
    """Subscribers by email key; with `lock`, their rows stay locked until commit, taken in id order."""
    wanted = sorted(keys)
    found: dict[str, _Known] = {}
    for start in range(0, len(wanted), CHUNK):
        query = (
            select(Subscriber.email_key, Subscriber.id, Subscriber.status)
            .where(one_of(s, Subscriber.email_key, wanted[start : start + CHUNK]))
            .order_by(Subscriber.id)
        )
        for key, sid, status in s.execute(query.with_for_update() if lock else query):
            found[key] = _Known(sid, status)
    return found


def _existing_event_ids(s: Session, ids: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(ids), CHUNK):
        chunk = list(ids[start : start + CHUNK])
        found.update(
            s.scalars(select(DeliveryEvent.sg_event_id).where(one_of(s, DeliveryEvent.sg_event_id, chunk)))
        )
    return found


# PostgreSQL: one statement per chunk, each column one array literal (see core.pg_array).
_INSERT_EVENTS_PG = text(
    "INSERT INTO delivery_events (sg_event_id, event, campaign_id, subscriber_id, occurred_at, detail) "
    "SELECT * FROM unnest(CAST(:sg_event_id AS text[]), CAST(:event AS text[]), CAST(:campaign_id AS integer[]), "
    "CAST(:subscriber_id AS integer[]), CAST(:occurred_at AS timestamptz[]), CAST(:detail AS text[])) "
    "ON CONFLICT (sg_event_id) DO NOTHING RETURNING id"
)


def _insert_events(s: Session, rows: list[dict[str, Any]]) -> int:
    """Insert events, each sg_event_id once (one stored meanwhile by a concurrent post is kept); the count."""
    if not rows:
        return 0
    inserted = 0
    if db.is_postgresql(s):
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start : start + CHUNK]
            arrays = {column: pg_array(_pg_value(r[column]) for r in chunk) for column in rows[0]}
            inserted += len(s.execute(_INSERT_EVENTS_PG, arrays).all())
        return inserted
    statement = (
        sqlite.insert(DELIVERY_EVENTS)
        .on_conflict_do_nothing(index_elements=["sg_event_id"])
        .returning(DELIVERY_EVENTS.c.id)
    )
    for start in range(0, len(rows), CHUNK):
        inserted += len(s.execute(statement, rows[start : start + CHUNK]).all())
    return inserted


def _pg_value(value: Any) -> Any:
    """Times in ISO 8601 with their offset, which PostgreSQL reads back exactly."""
    return value.isoformat() if isinstance(value, dt.datetime) else value
