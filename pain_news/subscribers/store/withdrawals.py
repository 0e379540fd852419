"""The store's side of the withdrawal queue (fed by store/withdrawal_queue.py): read it, and settle
what SendGrid took. Plain functions of the session the facade opens (one transaction a call);
sendgrid/withdraw.py makes the requests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

from sqlalchemy import Table, delete, func, select, update
from sqlalchemy.orm import Session

from pain_news.db.models import Campaign, GlobalUnsubscribe, LedgerEntry, Withdrawal, utcnow
from pain_news.subscribers.store.core import CHUNK, email_hash, insert_ignoring_conflicts
from pain_news.vocab import LEDGER_SENT, LEDGER_UNCERTAIN, LEDGER_WITHDRAWN, WITHDRAW

# What becomes `withdrawn` once SendGrid took the suppression (an in-flight row is recorded by its
# own run first).
SETTLED_FROM = (LEDGER_SENT, LEDGER_UNCERTAIN)


@dataclass(frozen=True)
class QueuedWithdrawal:
    """One suppression to make (or lift) at SendGrid."""

    id: int
    action: str  # withdraw | restore
    email: str
    subscriber_id: int
    campaign_id: int | None = None
    group_id: int | None = None  # the campaign's unsubscribe group; None: the global list
    send_at: dt.datetime | None = None
    cancelled: bool = False  # the scheduled send was cancelled since: nothing left to withdraw


@dataclass(frozen=True)
class WithdrawalFigures:
    """What `report` says about one scheduled campaign's withdrawals."""

    waiting: int  # queued, send_at still ahead: retried by the next drain
    late: int  # could not be made before send_at: those readers may have been mailed
    last_error: str


def _aware(moment: dt.datetime | None) -> dt.datetime | None:
    return moment.replace(tzinfo=dt.UTC) if moment is not None and moment.tzinfo is None else moment


def queued(s: Session) -> list[QueuedWithdrawal]:
    """Every row still to do, oldest first (those already found late are left out)."""
    query = (
        select(
            Withdrawal.id,
            Withdrawal.action,
            Withdrawal.email,
            Withdrawal.subscriber_id,
            Withdrawal.campaign_id,
            Campaign.asm_group_id,
            Campaign.scheduled_at,
            Campaign.cancelled_at,
        )
        .outerjoin(Campaign, Campaign.id == Withdrawal.campaign_id)
        .where(Withdrawal.late_at.is_(None))
        .order_by(Withdrawal.id)
    )
    return [
        QueuedWithdrawal(
            row[0], row[1], row[2], row[3], row[4], row[5] or None, _aware(row[6]), row[7] is not None
        )
        for row in s.execute(query)
    ]


def settle(
    s: Session,
    done: Sequence[QueuedWithdrawal],
    *,
    on_global_list: Sequence[str] = (),
    off_global_list: Sequence[str] = (),
    now: dt.datetime | None = None,
) -> None:
    """SendGrid took these: ledger rows become `withdrawn`, the addresses we put on (or took off)
    the global list are remembered (or forgotten) by hash, and the queue rows, with their
    addresses, are deleted — one transaction."""
    now = now or utcnow()
    for row in done:
        if row.action == WITHDRAW and row.campaign_id is not None:
            s.execute(
                update(LedgerEntry)
                .where(
                    LedgerEntry.campaign_id == row.campaign_id,
                    LedgerEntry.subscriber_id == row.subscriber_id,
                    LedgerEntry.state.in_(SETTLED_FROM),
                )
                .values(
                    state=LEDGER_WITHDRAWN,
                    reason="opted out before send_at: suppressed at SendGrid",
                    updated_at=now,
                )
            )
    lifted = sorted({email_hash(e) for e in off_global_list})
    for start in range(0, len(lifted), CHUNK):
        chunk = lifted[start : start + CHUNK]
        s.execute(delete(GlobalUnsubscribe).where(GlobalUnsubscribe.email_hash.in_(chunk)))
    table = cast(Table, GlobalUnsubscribe.__table__)
    rows = [{"email_hash": h, "created_at": now} for h in sorted({email_hash(e) for e in on_global_list})]
    insert_ignoring_conflicts(s, table, rows)
    ids = [r.id for r in done]
    for start in range(0, len(ids), CHUNK):
        s.execute(delete(Withdrawal).where(Withdrawal.id.in_(ids[start : start + CHUNK])))


def mark_late(s: Session, late: Sequence[int], now: dt.datetime) -> None:
    """These could not be made before send_at: keep the fact for `report`, drop the address."""
    for start in range(0, len(late), CHUNK):
        s.execute(
            update(Withdrawal)
            .where(Withdrawal.id.in_(late[start : start + CHUNK]))
            .values(late_at=now, email="")
        )


def note_failure(s: Session, failed: Sequence[int], error: str) -> None:
    """SendGrid did not take these (yet): counted and the reason kept, for `report`."""
    for start in range(0, len(failed), CHUNK):
        s.execute(
            update(Withdrawal)
            .where(Withdrawal.id.in_(failed[start : start + CHUNK]))
            .values(attempts=Withdrawal.attempts + 1, last_error=error[:500])
        )


def on_global_list(s: Session, emails: Sequence[str]) -> set[str]:
    """Those of `emails` we put on SendGrid's global unsubscribe list."""
    hashes = {email_hash(e): e for e in emails}
    found = s.scalars(select(GlobalUnsubscribe.email_hash).where(GlobalUnsubscribe.email_hash.in_(hashes)))
    return {hashes[h] for h in found}


def figures(s: Session, campaign_id: int, send_at: dt.datetime | None, now: dt.datetime) -> WithdrawalFigures:
    """Waiting and late withdrawals of one campaign; a row still queued after send_at is late too."""
    rows = s.execute(
        select(Withdrawal.late_at, Withdrawal.last_error).where(
            Withdrawal.campaign_id == campaign_id, Withdrawal.action == WITHDRAW
        )
    ).all()
    passed = send_at is not None and send_at <= now
    late = sum(1 for at, _ in rows if at is not None or passed)
    errors = [e for _, e in rows if e]
    return WithdrawalFigures(waiting=len(rows) - late, late=late, last_error=errors[-1] if errors else "")


def count_queued(s: Session) -> int:
    """How many rows are still to do (a cheap check before any client is made)."""
    return int(
        s.scalar(select(func.count()).select_from(Withdrawal).where(Withdrawal.late_at.is_(None))) or 0
    )
