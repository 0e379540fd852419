"""What inbound mail did: one reply event per message, and the opt-outs that mail asks for.

A reply event keeps when, which subscriber (if known), which campaign (if known) and what was
done — never the sender's address, the subject or a word of the body (docs/security.md). The
opt-out an emailed message asks for and its event are written in one transaction, through the
store's one status-change path (events._opt_out_many → write_status_changes), like a one-click
unsubscribe: a history row, never reviving, honoured by a running send.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pain_news.config.clock import as_utc
from pain_news.db.models import ReplyEvent, Subscriber
from pain_news.subscribers.store.core import CHUNK, email_hash, email_key, one_of
from pain_news.subscribers.store.events import _opt_out_many, _OptOut
from pain_news.vocab import (
    REPLY_AUTO_DROPPED,
    REPLY_BOUNCE,
    REPLY_FORWARDED,
    REPLY_SOFT_BOUNCE,
    REPLY_UNSUBSCRIBED,
)

# What `report` and `campaigns` show per campaign, and the actions each figure counts.
REPLY_FIGURES: dict[str, tuple[str, ...]] = {
    "replies": (REPLY_FORWARDED,),
    "opt-outs by email": (REPLY_UNSUBSCRIBED,),
    "auto-replies dropped": (REPLY_AUTO_DROPPED,),
    "bounces by email": (REPLY_BOUNCE, REPLY_SOFT_BOUNCE),
}


@dataclass(frozen=True)
class ReplyOutcome:
    """What to record about one inbound message (and the opt-out it asks for, if any)."""

    action: str  # vocab.REPLY_ACTIONS
    sender: str = ""  # the From address; only its hash is kept
    subscriber_id: int | None = None
    campaign_id: int | None = None
    answered: bool = False
    # An opt-out: the address whose status changes (a subscriber's, or one to suppress), the status
    # and the method (vocab.OPT_OUT_METHODS).
    opt_out_email: str = ""
    opt_out_status: str = ""
    opt_out_method: str = ""
    detail: str = ""  # written to the subscriber's history with the opt-out (no message content)


@dataclass(frozen=True)
class ReplyApplied:
    subscriber_id: int | None  # the subscriber the message was about, when known
    changed: bool  # an opt-out changed a status


@dataclass(frozen=True)
class ReplyEventRecord:
    at: dt.datetime
    action: str
    campaign_id: int | None
    answered: bool


def subscriber_id_for(s: Session, email: str) -> int | None:
    """The id of the subscriber with this address, or None."""
    return s.scalar(select(Subscriber.id).where(Subscriber.email_key == email_key(email)))


def address_of(s: Session, subscriber_id: int) -> str | None:
    """The address of a subscriber (the token mailto names an id), or None when deleted."""
    return s.scalar(select(Subscriber.email).where(Subscriber.id == subscriber_id))


def record_reply(s: Session, outcome: ReplyOutcome, now: dt.datetime) -> ReplyApplied:
    """Apply the opt-out `outcome` asks for (if any) and record the event, in the caller's transaction."""
    subscriber_id, changed = outcome.subscriber_id, False
    if outcome.opt_out_status and outcome.opt_out_email:
        out = _OptOut(
            outcome.opt_out_email,
            outcome.opt_out_status,
            outcome.opt_out_method,
            outcome.campaign_id,
            outcome.detail,
        )
        done = _opt_out_many(s, [out], now)
        changed = done.changed > 0
        subscriber_id = done.ids.get(email_key(outcome.opt_out_email), subscriber_id)
    s.add(
        ReplyEvent(
            at=now,
            subscriber_id=subscriber_id,
            campaign_id=outcome.campaign_id,
            action=outcome.action,
            answered=outcome.answered,
            sender_hash=email_hash(outcome.sender) if outcome.sender else None,
        )
    )
    return ReplyApplied(subscriber_id, changed)


def answered_since(s: Session, sender: str, since: dt.datetime) -> bool:
    """True when this sender was sent the automatic answer at or after `since`."""
    found = s.scalar(
        select(func.count(ReplyEvent.id)).where(
            ReplyEvent.sender_hash == email_hash(sender),
            ReplyEvent.answered.is_(True),
            ReplyEvent.at >= since,
        )
    )
    return bool(found)


def reply_events(s: Session, subscriber_id: int) -> list[ReplyEventRecord]:
    """A subscriber's reply events, oldest first (`subscribers show`)."""
    rows = s.execute(
        select(ReplyEvent.at, ReplyEvent.action, ReplyEvent.campaign_id, ReplyEvent.answered)
        .where(ReplyEvent.subscriber_id == subscriber_id)
        .order_by(ReplyEvent.id)
    )
    return [ReplyEventRecord(as_utc(at), action, cid, bool(answered)) for at, action, cid, answered in rows]


def reply_figures(s: Session, campaign_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """Per campaign, the REPLY_FIGURES counts (every figure present, 0 when none)."""
    wanted = sorted(set(campaign_ids))
    counts: dict[int, dict[str, int]] = {cid: dict.fromkeys(REPLY_FIGURES, 0) for cid in wanted}
    for start in range(0, len(wanted), CHUNK):
        _count_chunk(s, wanted[start : start + CHUNK], counts)
    return counts


def _count_chunk(s: Session, ids: Sequence[int], counts: dict[int, dict[str, int]]) -> None:
    query = (
        select(ReplyEvent.campaign_id, ReplyEvent.action, func.count(ReplyEvent.id))
        .where(one_of(s, ReplyEvent.campaign_id, list(ids)))
        .group_by(ReplyEvent.campaign_id, ReplyEvent.action)
    )
    for cid, action, n in s.execute(query):
        for figure, actions in REPLY_FIGURES.items():
            if action in actions and cid is not None:
                counts[cid][figure] += int(n)
