"""Statuses and history of one subscriber: add, opt out, resubscribe, delete, and the history read.

Opt-outs are sacred: nothing here turns an unsubscribed, bounced or complained subscriber (or a
deleted, hash-suppressed address) active again, except `resubscribe` with a reason. Each function
works in the session it is given; `SubscriberStore` (__init__.py) opens one transaction per call.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable

from sqlalchemy import delete as sql_delete
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from pain_news.config.clock import as_utc
from pain_news.db.models import (
    DeliveryEvent,
    LedgerEntry,
    ReplyEvent,
    Subscriber,
    SubscriberEvent,
    SubscriberTag,
)
from pain_news.errors import StoreError
from pain_news.subscribers.store import core
from pain_news.subscribers.store.core import (
    Change,
    EventRecord,
    SubscriberRecord,
    clean_tags,
    control_character,
    email_hash,
    email_key,
    lock_new_addresses,
    new_subscriber,
    set_status,
    suppress_many,
    suppressed_keys,
)
from pain_news.subscribers.store.topics import clean_topics, write_topic_changes
from pain_news.subscribers.store.withdrawal_queue import queue_withdrawals
from pain_news.vocab import ACTIVE, OPT_OUT_METHODS, OPTED_OUT


def history(s: Session, who: str | int) -> tuple[SubscriberRecord, list[EventRecord]]:
    """A subscriber and their status history, oldest first."""
    sub = core.find(s, who)
    rows = s.scalars(
        select(SubscriberEvent).where(SubscriberEvent.subscriber_id == sub.id).order_by(SubscriberEvent.id)
    )
    events = [
        EventRecord(as_utc(e.at), e.old_status, e.new_status, e.method, e.campaign_id, e.detail) for e in rows
    ]
    return SubscriberRecord.of(sub), events


def is_suppressed(s: Session, email: str) -> bool:
    """True when this address was deleted or opted out elsewhere and must not be re-added."""
    return bool(suppressed_keys(s, [email]))


def add(
    s: Session,
    address: str,
    first_name: str,
    last_name: str,
    tags: Iterable[str],
    topics: Iterable[str],
    source: str,
    now: dt.datetime,
    language: str = "en",
) -> SubscriberRecord:
    """Add one active subscriber (`address` already checked); refuses known and suppressed addresses."""
    lock_new_addresses(s)
    existing = s.scalar(select(Subscriber).where(Subscriber.email_key == email_key(address)))
    if existing is not None:
        raise StoreError(
            f"{address} is already in the list ({existing.status})",
            hint="use 'pain-news subscribers resubscribe' to bring back someone who opted out"
            if existing.status in OPTED_OUT
            else None,
        )
    if is_suppressed(s, address):
        raise StoreError(
            f"{address} was deleted or opted out and is suppressed; it cannot be re-added",
            hint="the person can sign up again themselves through the signup form",
        )
    sub = new_subscriber(address, first_name, last_name, ACTIVE, source, now, language)
    sub.tags = [SubscriberTag(tag=t) for t in clean_tags(tags)]
    s.add(sub)
    s.flush()
    s.add(
        SubscriberEvent(
            subscriber_id=sub.id, at=now, old_status=None, new_status=ACTIVE, method="manual", detail="added"
        )
    )
    chosen = clean_topics(topics)
    if chosen:
        s.flush()  # the "added" row first in the history
        write_topic_changes(s, {sub.id: ((), chosen)}, {sub.id: ACTIVE}, now, "added")
        s.expire(sub, ["topics"])
    return SubscriberRecord.of(sub)


def check_opt_out(status: str, method: str) -> None:
    """ValueError for a status that is not an opt-out or a method we do not know (a programming error)."""
    if status not in OPTED_OUT or method not in OPT_OUT_METHODS:
        raise ValueError(f"bad opt-out {status!r} by {method!r}")


def opt_out(
    s: Session,
    who: str | int | Subscriber,
    status: str,
    method: str,
    campaign_id: int | None,
    detail: str,
    now: dt.datetime,
) -> Change:
    """Mark unsubscribed/bounced/complained; idempotent; a complaint outranks an unsubscribe.

    `who` may be a row already read with its lock (opt_out_address).
    """
    check_opt_out(status, method)
    sub = who if isinstance(who, Subscriber) else core.find(s, who, lock=True)
    if sub.status == status or (sub.status in OPTED_OUT and status == "unsubscribed"):
        return Change(SubscriberRecord.of(sub), changed=False)
    set_status(s, sub, status, method, now, campaign_id, detail)
    return Change(SubscriberRecord.of(sub), changed=True)


def opt_out_address(
    s: Session,
    email: str,
    status: str,
    method: str,
    campaign_id: int | None,
    detail: str,
    now: dt.datetime,
) -> Change | None:
    """Opt out by address; an address we do not know is suppressed so no import can add it later."""
    check_opt_out(status, method)
    # An address with a control character cannot be a subscriber (and PostgreSQL refuses NUL).
    sub = None if control_character(email) else core.lookup(s, email, lock=True)
    if sub is None and not control_character(email):
        # An import may be adding this address right now: wait for it, then look again.
        lock_new_addresses(s)
        sub = core.lookup(s, email, lock=True)
    if sub is None:
        suppress_many(s, [email], f"{method}:{status}", now)
        return None
    return opt_out(s, sub, status, method, campaign_id, detail, now)


def resubscribe(s: Session, who: str | int, reason: str, now: dt.datetime) -> Change:
    """The only way back to active for an opted-out subscriber; the reason is kept in history."""
    if not reason.strip():
        raise StoreError("a reason is required to resubscribe someone who opted out")
    sub = core.find(s, who, lock=True)
    if sub.status == ACTIVE:
        return Change(SubscriberRecord.of(sub), changed=False)
    set_status(s, sub, ACTIVE, "resubscribe", now, detail=reason.strip())
    return Change(SubscriberRecord.of(sub), changed=True)


def delete(s: Session, who: str | int, now: dt.datetime) -> str:
    """Erase a subscriber and their history, keeping only a hashed address as a suppression.

    The send ledger keeps its rows (campaign counts stay right) but not the address: it
    becomes `deleted:<first 12 hex of the hash>`, also inside provider replies kept there.
    Delivery events keep only the subscriber id, which names nobody once the row is gone
    (ids are never reused), and lose their detail (a bounce reply may quote the address).
    """
    sub = core.find(s, who, lock=True)
    address = sub.email
    # A scheduled send's message to them is withdrawn at SendGrid; the queue keeps the address
    # only until SendGrid took it (store/withdrawal_queue.py, docs/security.md).
    queue_withdrawals(s, [sub.id], now)
    suppress_many(s, [address], "deleted", now)
    placeholder = f"deleted:{email_hash(address)[:12]}"
    spelled = re.compile(re.escape(address), re.IGNORECASE)
    for entry in s.scalars(select(LedgerEntry).where(LedgerEntry.subscriber_id == sub.id)):
        entry.email = placeholder
        entry.reason = spelled.sub(placeholder, entry.reason) if entry.reason else entry.reason
    s.execute(update(DeliveryEvent).where(DeliveryEvent.subscriber_id == sub.id).values(detail=""))
    # Reply events stay counted per campaign but name nobody: no subscriber, no sender hash.
    s.execute(
        update(ReplyEvent)
        .where((ReplyEvent.subscriber_id == sub.id) | (ReplyEvent.sender_hash == email_hash(address)))
        .values(subscriber_id=None, sender_hash=None)
    )
    s.execute(sql_delete(SubscriberEvent).where(SubscriberEvent.subscriber_id == sub.id))
    s.delete(sub)
    return address
