"""SQL shared by the ledger's parts: who a campaign is for, the ledger rows it starts with, state moves."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import DateTime, Integer, Select, String, case, exists, insert, literal, null, select, update
from sqlalchemy.orm import Session

from pain_news.db.models import LedgerEntry, Subscriber, SubscriberTopic
from pain_news.vocab import ACTIVE, LEDGER_PENDING, LEDGER_SKIPPED


def audience(topics: Sequence[str] = ()) -> Select[Any]:
    """Who a new campaign considers: every subscriber (only `active` ones are mailed), in id order;
    with `topics`, only those who chose at least one of them.

    The one place the recipient list is chosen: the plan's counts, the dry run and the campaign's
    ledger rows all follow it.
    """
    if not topics:
        return select(Subscriber)
    chose = exists().where(SubscriberTopic.subscriber_id == Subscriber.id, SubscriberTopic.topic.in_(topics))
    return select(Subscriber).where(chose)


def ledger_rows(
    campaign_id: int,
    now: dt.datetime,
    topics: Sequence[str] = (),
    *,
    language: str = "en",
    others: Sequence[str] = (),
) -> Any:
    """INSERT … SELECT of the audience into the ledger: pending when active, else skipped with why.

    Each row records its edition: the subscriber's language when it is one of the issue's `others`,
    else the default `language` (docs/sending.md#editions)."""
    who = audience(topics).subquery()
    active = who.c.status == ACTIVE
    edition = (
        case((who.c.language.in_(others), who.c.language), else_=literal(language, String))
        if others
        else literal(language, String)
    )
    rows = select(
        literal(campaign_id, Integer),
        who.c.id,
        who.c.id,
        who.c.email,
        case((active, literal(LEDGER_PENDING, String)), else_=literal(LEDGER_SKIPPED, String)),
        case((active, null()), else_=who.c.status + literal(" at the start of the send", String)),
        literal(0, Integer),
        literal(now, DateTime(timezone=True)),
        edition,
    ).order_by(who.c.id)
    columns = [
        "campaign_id",
        "subscriber_id",
        "position",
        "email",
        "state",
        "reason",
        "attempts",
        "updated_at",
        "language",
    ]
    return insert(LedgerEntry).from_select(columns, rows)


def recipient_rows(conn: Any, campaign_id: int) -> list[dict[str, Any]]:
    query = (
        select(
            LedgerEntry.email,
            LedgerEntry.subscriber_id,
            LedgerEntry.state,
            LedgerEntry.message_id,
            LedgerEntry.reason,
            LedgerEntry.language,
        )
        .where(LedgerEntry.campaign_id == campaign_id)
        .order_by(LedgerEntry.position)
    )
    return [
        {"email": e, "subscriber_id": sid, "state": st, "message_id": mid, "reason": why, "language": lang}
        for e, sid, st, mid, why, lang in conn.execute(query)
    ]


def move(
    s: Session, campaign_id: int, old: str, new: str, now: dt.datetime, reason: str | None = None
) -> None:
    values: dict[str, Any] = {"state": new, "updated_at": now}
    if reason is not None:
        values["reason"] = reason
    s.execute(
        update(LedgerEntry)
        .where(LedgerEntry.campaign_id == campaign_id, LedgerEntry.state == old)
        .values(**values)
    )
