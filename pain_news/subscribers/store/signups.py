"""Double opt-in in the store: a signup request (pending, with its history row), its confirmation,
and the purge of signups nobody confirmed.

A confirmed signup is, besides `resubscribe`, the only way an opted-out person becomes active
again, and only through the newest request with no opt-out after it. The form can be posted by
anyone, so the name it carries waits on the request's history row (`submitted_name`) and reaches
the subscriber only when the address's owner confirms that request. Each function works in the
session it is given; `SubscriberStore` (__init__.py) opens one transaction per call.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, Executable, delete, exists, func, select, update
from sqlalchemy.orm import Session

from pain_news.config.clock import as_utc
from pain_news.db.models import Subscriber, SubscriberEvent, Suppression
from pain_news.errors import InvalidToken
from pain_news.i18n import N_
from pain_news.subscribers.store import core
from pain_news.subscribers.store.core import (
    CHUNK,
    MAX_NAME,
    Change,
    SignupRequest,
    SubscriberRecord,
    check_text,
    lookup_hashes,
    new_subscriber,
    one_of,
    set_status,
)
from pain_news.subscribers.store.topics import signup_detail, topics_requested, write_topic_changes
from pain_news.vocab import ACTIVE, OPTED_OUT, PENDING


def request_signup(
    s: Session,
    address: str,
    first_name: str,
    last_name: str,
    daily_limit: int | None,
    topics: Iterable[str] | None,
    now: dt.datetime,
    language: str = "en",
) -> SignupRequest:
    """Record a signup form submission (`address` already checked); see SubscriberStore.request_signup."""
    nothing = SignupRequest(0, 0, send_confirmation=False)
    first_name = check_text("first name", first_name, MAX_NAME)  # kept on the request until confirmed
    sub = core.lookup(s, address, lock=True)
    if sub is None:
        if _suppressed_as_undeliverable(s, address):
            return nothing
        # No name yet: it is the form's, kept on the request until its owner confirms.
        sub = new_subscriber(address, "", last_name, PENDING, "signup", now, language)
        s.add(sub)
        s.flush()
        old = None
    elif sub.status in (ACTIVE, "bounced", "complained"):
        return nothing
    else:
        old = sub.status
        if daily_limit is not None and _signups_since(s, sub.id, now - dt.timedelta(days=1)) >= daily_limit:
            return nothing
    # Logged even when the status stays (an opted-out person asking back in): the event
    # id goes into the confirmation token, so only the newest request can confirm.
    event = SubscriberEvent(
        subscriber_id=sub.id,
        at=now,
        old_status=old,
        new_status=sub.status,
        method="signup",
        detail=signup_detail(topics),
        submitted_name=first_name or None,
    )
    s.add(event)
    s.flush()
    return SignupRequest(sub.id, event.id, send_confirmation=True)


def _signups_since(s: Session, subscriber_id: int, since: dt.datetime) -> int:
    """How many confirmation emails this subscriber was sent since `since`."""
    return int(
        s.scalar(
            select(func.count(SubscriberEvent.id)).where(
                SubscriberEvent.subscriber_id == subscriber_id,
                SubscriberEvent.method == "signup",
                SubscriberEvent.at >= since,
            )
        )
        or 0
    )


def _suppressed_as_undeliverable(s: Session, email: str) -> bool:
    """True when an unknown address was suppressed for a bounce or complaint (opt_out_address)."""
    query = select(Suppression.reason).where(Suppression.email_hash.in_(lookup_hashes(email)))
    reason = s.scalar(query.limit(1))
    return reason is not None and reason.endswith((":bounced", ":complained"))


def confirm_signup(
    s: Session, subscriber_id: int, request_event_id: int, now: dt.datetime, since: dt.datetime | None = None
) -> Change:
    """Activate after the confirmation link; InvalidToken for stale or unknown requests (and for a
    request made before `since`: its signup was purged). The name typed on the confirmed form, if
    any, becomes the subscriber's own."""
    sub = core.lookup(s, subscriber_id, lock=True)  # see core.lookup: no stale overwrite
    if sub is None:
        raise InvalidToken(N_("this confirmation link names nobody"), hint=N_("sign up again"))
    if sub.status == ACTIVE:
        return Change(SubscriberRecord.of(sub), changed=False)
    _check_current(s, sub, request_event_id, since)
    s.execute(delete(Suppression).where(Suppression.email_hash.in_(lookup_hashes(sub.email))))
    set_status(s, sub, ACTIVE, "confirm", now, detail="confirmed signup")
    request = s.get(SubscriberEvent, request_event_id)
    if request is not None and request.submitted_name:
        sub.first_name, sub.name_set_by_subscriber = request.submitted_name, True
    _forget_submitted_names(s, [sub.id])
    chosen = topics_requested(request)
    if chosen is not None:
        old = tuple(t.topic for t in sub.topics)
        write_topic_changes(s, {sub.id: (old, chosen)}, {sub.id: ACTIVE}, now, "signup")
        sub.chose_own_topics = True  # ticked on the form they confirmed: no import adds to them
        s.expire(sub, ["topics"])
    s.flush()
    return Change(SubscriberRecord.of(sub), changed=True)


def _forget_submitted_names(s: Session, subscriber_ids: list[int]) -> None:
    """Clear the names these subscribers' signup forms carried (confirmed or given up)."""
    s.execute(
        update(SubscriberEvent)
        .where(SubscriberEvent.subscriber_id.in_(subscriber_ids), SubscriberEvent.submitted_name.is_not(None))
        .values(submitted_name=None)
    )


@dataclass(frozen=True)
class Purged:
    """What a purge of stale signups removed: pending subscribers (address and all), and the
    names still waiting on requests of subscribers who stay (an opted-out person who asked back in)."""

    subscribers: int
    names: int


def purge_unconfirmed(s: Session, before: dt.datetime) -> Purged:
    """Delete pending subscribers with no signup request since `before` (their history, topics and
    tags go with them: foreign keys cascade), and forget names on older unconfirmed requests."""
    recent = exists().where(
        SubscriberEvent.subscriber_id == Subscriber.id,
        SubscriberEvent.method == "signup",
        SubscriberEvent.at >= before,
    )
    stale = (Subscriber.status == PENDING, Subscriber.created_at < before, ~recent)
    # Locked, and checked again as they go: a signup that commits meanwhile keeps its subscriber.
    ids = list(s.scalars(select(Subscriber.id).where(*stale).with_for_update()))
    gone = 0
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        gone += _changed(s, delete(Subscriber).where(one_of(s, Subscriber.id, chunk), *stale))
    names = _changed(
        s,
        update(SubscriberEvent)
        .where(
            SubscriberEvent.method == "signup",
            SubscriberEvent.at < before,
            SubscriberEvent.submitted_name.is_not(None),
        )
        .values(submitted_name=None),
    )
    return Purged(gone, names)


def _changed(s: Session, statement: Executable) -> int:
    """How many rows an UPDATE or DELETE changed."""
    # an UPDATE's or DELETE's result is a CursorResult, which counts the rows it changed
    return cast(CursorResult[Any], s.execute(statement)).rowcount or 0


def signup_to_confirm(
    s: Session, subscriber_id: int, request_event_id: int, since: dt.datetime | None = None
) -> SubscriberRecord:
    """The subscriber a confirmation link would activate (nothing changes); InvalidToken when stale."""
    sub = core.lookup(s, subscriber_id)
    if sub is None:
        raise InvalidToken(N_("this confirmation link names nobody"), hint=N_("sign up again"))
    if sub.status != ACTIVE:
        _check_current(s, sub, request_event_id, since)
    return SubscriberRecord.of(sub)


def _check_current(s: Session, sub: Subscriber, request_event_id: int, since: dt.datetime | None) -> None:
    """InvalidToken unless this is the newest signup request, made since `since` (when given), and
    no opt-out came after it."""
    newest = s.scalar(
        select(func.max(SubscriberEvent.id)).where(
            SubscriberEvent.subscriber_id == sub.id, SubscriberEvent.method == "signup"
        )
    )
    later_opt_out = s.scalar(
        select(
            exists().where(
                SubscriberEvent.subscriber_id == sub.id,
                SubscriberEvent.id > request_event_id,
                SubscriberEvent.new_status.in_(OPTED_OUT),
                SubscriberEvent.method != "signup",
            )
        )
    )
    request = s.get(SubscriberEvent, request_event_id) if since is not None else None
    too_old = since is not None and request is not None and as_utc(request.at) < since
    if newest != request_event_id or later_opt_out or too_old:
        raise InvalidToken(
            N_("this confirmation link has been replaced or withdrawn"), hint=N_("sign up again")
        )
