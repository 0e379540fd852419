"""What the database keeps about links: the previous secret keys, and fresh preference links mailed.

A previous key shorter than 32 bytes (from before that rule) could be guessed offline, and its
unsubscribe links then forged for any subscriber id. Each previous key is recorded, by a
fingerprint and never the key, with the highest subscriber id at the moment it was first seen
among the previous keys: its links are honoured only up to that id (web/context.py).

An expired preference page can mail its subscriber a fresh link; a row per link mailed keeps that
to a few a day, and rows older than a day are deleted (docs/security.md).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from typing import cast

from sqlalchemy import Table, delete, func, select
from sqlalchemy.orm import Session

from pain_news.db.models import FreshLinkRequest, RetiredKey, Subscriber, SubscriberAlias
from pain_news.subscribers.store.core import insert_ignoring_conflicts

RETIRED_KEYS = cast(Table, RetiredKey.__table__)
FRESH_LINK_WINDOW = dt.timedelta(days=1)


def key_fingerprint(key: str) -> str:
    """How the database names a previous key (never the key itself): a SHA-256 over a fixed prefix
    and the key. Guessing a key from it is no easier than from any link the key signed."""
    return hashlib.sha256(b"pain-news/retired-key:" + key.encode("utf-8")).hexdigest()


def record_retired_keys(s: Session, keys: Iterable[str], now: dt.datetime) -> dict[str, int]:
    """Record the keys not seen before with today's highest subscriber id; every key's bound, by
    fingerprint. A key already recorded keeps the bound of the day it was first seen."""
    prints = sorted({key_fingerprint(k) for k in keys if k})
    if not prints:
        return {}
    known = _bounds(s, prints)
    missing = [p for p in prints if p not in known]
    if missing:
        # Aliases too: an id merged into another (migration 0008) still names a subscriber.
        highest = max(
            s.scalar(select(func.max(Subscriber.id))) or 0,
            s.scalar(select(func.max(SubscriberAlias.old_id))) or 0,
        )
        rows = [{"fingerprint": p, "highest_subscriber_id": highest, "first_seen_at": now} for p in missing]
        insert_ignoring_conflicts(s, RETIRED_KEYS, rows)  # another process may record it meanwhile
        known = _bounds(s, prints)
    return known


def _bounds(s: Session, prints: list[str]) -> dict[str, int]:
    query = select(RetiredKey.fingerprint, RetiredKey.highest_subscriber_id)
    return {p: bound for p, bound in s.execute(query.where(RetiredKey.fingerprint.in_(prints)))}


def claim_fresh_link(s: Session, subscriber_id: int, per_day: int, now: dt.datetime) -> bool:
    """Count one fresh link for this subscriber; False (nothing written) when `per_day` were
    mailed in the last 24 hours. The subscriber's row is locked first, so two requests at once
    cannot both take the last one (SQLite serialises writers anyway)."""
    s.execute(select(Subscriber.id).where(Subscriber.id == subscriber_id).with_for_update())
    s.execute(delete(FreshLinkRequest).where(FreshLinkRequest.at <= now - FRESH_LINK_WINDOW))
    recent = s.scalar(
        select(func.count())
        .select_from(FreshLinkRequest)
        .where(FreshLinkRequest.subscriber_id == subscriber_id)
    )
    if (recent or 0) >= per_day:
        return False
    s.add(FreshLinkRequest(subscriber_id=subscriber_id, at=now))
    return True
