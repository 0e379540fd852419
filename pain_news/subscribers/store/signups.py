"""Double opt-in in the store: a signup request (pending, with its history row), its confirmation.

A confirmed signup is, besides `resubscribe`, the only way an opted-out person becomes active
again, and only through the newest request with no opt-out after it. Each function works in the
session it is given; `SubscriberStore` (__init__.py) opens one transaction per call.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import delete, exists, func, select
from sqlalchemy.orm import Session

from pain_news.db.models import Subscriber, SubscriberEvent, Suppression
from pain_news.errors import InvalidToken
from pain_news.i18n import N_
from pain_news.subscribers.store import core
from pain_news.subscribers.store.core import (
    Change,
    SignupRequest,
    SubscriberRecord,
    lookup_hashes,
    new_subscriber,
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
    sub = core.lookup(s, address, lock=True)
    if sub is None:
        if _suppressed_as_undeliverable(s, address):
            return nothing
        sub = new_subscriber(address, first_name, last_name, PENDING, "signup", now, language)
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


def confirm_signup(s: Session, subscriber_id: int, request_event_id: int, now: dt.datetime) -> Change:
    """Activate after the confirmation link; InvalidToken for stale or unknown requests."""
    sub = core.lookup(s, subscriber_id, lock=True)  # see core.lookup: no stale overwrite
    if sub is None:
        raise InvalidToken(N_("this confirmation link names nobody"), hint=N_("sign up again"))
    if sub.status == ACTIVE:
        return Change(SubscriberRecord.of(sub), changed=False)
    _check_current(s, sub, request_event_id)
    s.execute(delete(Suppression).where(Suppression.email_hash.in_(lookup_hashes(sub.email))))
    set_status(s, sub, ACTIVE, "confirm", now, detail="confirmed signup")
    chosen = topics_requested(s.get(SubscriberEvent, request_event_id))
    if chosen is not None:
        old = tuple(t.topic for t in sub.topics)
        write_topic_changes(s, {sub.id: (old, chosen)}, {sub.id: ACTIVE}, now, "signup")
        sub.chose_own_topics = True  # ticked on the form they confirmed: no import adds to them
        s.expire(sub, ["topics"])
    return Change(SubscriberRecord.of(sub), changed=True)


def signup_to_confirm(s: Session, subscriber_id: int, request_event_id: int) -> SubscriberRecord:
    """The subscriber a confirmation link would activate (nothing changes); InvalidToken when stale."""
    sub = core.lookup(s, subscriber_id)
    if sub is None:
        raise InvalidToken(N_("this confirmation link names nobody"), hint=N_("sign up again"))
    if sub.status != ACTIVE:
        _check_current(s, sub, request_event_id)
    return SubscriberRecord.of(sub)


def _check_current(s: Session, sub: Subscriber, request_event_id: int) -> None:
    """InvalidToken unless this is the newest signup request and no opt-out came after it."""
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
    if newest != request_event_id or later_opt_out:
        raise InvalidToken(
            N_("this confirmation link has been replaced or withdrawn"), hint=N_("sign up again")
        )
