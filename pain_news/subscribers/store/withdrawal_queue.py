"""The withdrawal queue's feed: rows written in the transaction of the status change itself.

A scheduled send hands SendGrid its messages up to 72 hours before `send_at`. An opt-out or an
erasure in that window must reach SendGrid's suppression before then (sendgrid/withdraw.py makes
the requests). The queue is filled in the same transaction as the change itself — by
`write_status_changes` (store/core.py), the one path every opt-out takes, and by `delete` — so no
page, command or webhook can opt someone out without it, and nothing depends on one process
staying up. A confirmed re-subscription queues a `restore`: our suppression is lifted, or
every later issue to them would be dropped by SendGrid.

An erased address is kept here in clear only until SendGrid took the request: the row is deleted
then, and a row that came too late keeps no address (docs/security.md).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import cast

from sqlalchemy import DateTime, Integer, String, Table, and_, exists, insert, literal, select
from sqlalchemy.orm import Session

from pain_news.db.models import Campaign, LedgerEntry, Subscriber, Withdrawal
from pain_news.vocab import LEDGER_IN_FLIGHT, LEDGER_SENT, LEDGER_UNCERTAIN, RESTORE, WITHDRAW

WITHDRAWALS = cast(Table, Withdrawal.__table__)
CHUNK = 2000
# Rows SendGrid holds (or may hold) a message for: what a suppression can still stop.
HELD = (LEDGER_SENT, LEDGER_UNCERTAIN, LEDGER_IN_FLIGHT)
TZ = DateTime(timezone=True)


def queue_withdrawals(s: Session, subscriber_ids: Sequence[int], now: dt.datetime) -> None:
    """One `withdraw` row per scheduled send still to come that holds a message for these subscribers.

    Runs inside the caller's transaction, before an erasure replaces the ledger's address. A quick
    look first: without a scheduled send ahead (the usual case) nothing else is read.
    """
    if not subscriber_ids:
        return
    ahead = and_(Campaign.scheduled_at > now, Campaign.cancelled_at.is_(None))
    if not s.scalar(select(exists().where(ahead))):
        return
    queued = Withdrawal.__table__.alias("queued")
    for start in range(0, len(subscriber_ids), CHUNK):
        chunk = list(subscriber_ids[start : start + CHUNK])
        rows = (
            select(
                literal(WITHDRAW, String),
                LedgerEntry.campaign_id,
                LedgerEntry.subscriber_id,
                LedgerEntry.email,
                literal(now, TZ),
                literal(0, Integer),
                literal("", String),
            )
            .join(Campaign, Campaign.id == LedgerEntry.campaign_id)
            .where(
                LedgerEntry.subscriber_id.in_(chunk),
                LedgerEntry.state.in_(HELD),
                ahead,
                ~exists().where(
                    queued.c.action == WITHDRAW,
                    queued.c.campaign_id == LedgerEntry.campaign_id,
                    queued.c.subscriber_id == LedgerEntry.subscriber_id,
                ),
            )
        )
        columns = ["action", "campaign_id", "subscriber_id", "email", "created_at", "attempts", "last_error"]
        s.execute(insert(WITHDRAWALS).from_select(columns, rows))


def queue_restores(s: Session, subscriber_ids: Sequence[int], now: dt.datetime) -> None:
    """A `restore` row for each subscriber back to active after an opt-out (confirm, resubscribe)."""
    for start in range(0, len(subscriber_ids), CHUNK):
        chunk = list(subscriber_ids[start : start + CHUNK])
        rows = select(
            literal(RESTORE, String),
            Subscriber.id,
            Subscriber.email,
            literal(now, TZ),
            literal(0, Integer),
            literal("", String),
        ).where(Subscriber.id.in_(chunk))
        columns = ["action", "subscriber_id", "email", "created_at", "attempts", "last_error"]
        s.execute(insert(WITHDRAWALS).from_select(columns, rows))
