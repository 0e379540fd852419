"""One run's writes: claim a batch (in_flight) before the provider is called, record its outcome after."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Executable,
    Integer,
    Row,
    String,
    bindparam,
    cast,
    func,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY

from pain_news.db import store_errors
from pain_news.ledger.records import Claim, ClaimedEntry, Outcome
from pain_news.models import (
    ACTIVE,
    LEDGER_IN_FLIGHT,
    LEDGER_PENDING,
    LEDGER_SKIPPED,
    LedgerEntry,
    Subscriber,
    Suppression,
    utcnow,
)
from pain_news.store import email_hash
from pain_news.store_core import pg_array


class BatchWriter:
    """Claims batches and records their outcomes for one run; each call is one short transaction."""

    def __init__(self, engine: Engine, reader: Engine, campaign_id: int) -> None:
        self.engine = engine
        self.campaign_id = campaign_id
        self._is_postgres = engine.dialect.name == "postgresql"
        # One ledger writer at a time within this process: SQLite would otherwise make the other
        # threads busy-wait (sleeping up to 100 ms a try) for its write lock.
        self._write_lock = threading.Lock()
        with store_errors(), reader.connect() as conn:
            last = conn.scalar(
                select(func.max(LedgerEntry.batch)).where(LedgerEntry.campaign_id == campaign_id)
            )
        self._batch = int(last or 0)

    def claim(self, batch_size: int) -> Claim | None:
        """Take the next pending batch: re-read statuses, skip opt-outs, mark the rest in_flight.

        One transaction, so an opt-out that arrives during the send is honoured at its batch.
        None when nothing is pending any more.
        """
        now = utcnow()
        with self._write_lock, store_errors(), self.engine.begin() as conn:  # Core: no ORM bookkeeping
            rows = conn.execute(self._pending(batch_size)).all()
            if not rows:
                return None
            chosen, skipped = self._still_wanted(conn, rows)
            for why, skip_ids in skipped.items():
                conn.execute(
                    update(LedgerEntry)
                    .where(self._ids_in(skip_ids))
                    .values(state=LEDGER_SKIPPED, reason=why, updated_at=now)
                )
            if chosen:
                self._batch += 1
                conn.execute(
                    update(LedgerEntry)
                    .where(self._ids_in([r.id for r in chosen]))
                    .values(
                        state=LEDGER_IN_FLIGHT,
                        batch=self._batch,
                        attempts=LedgerEntry.attempts + 1,
                        updated_at=now,
                    )
                )
        attempts = max((r.attempts + 1 for r in chosen), default=0)
        entries = [ClaimedEntry._make(r[:5]) for r in chosen]  # the query's first columns, in order
        return Claim(entries=entries, attempts=attempts, skipped=sum(len(v) for v in skipped.values()))

    def _pending(self, batch_size: int) -> Executable:
        """The next `batch_size` pending rows in ledger order, with each subscriber's current status."""
        query = (
            select(  # ClaimedEntry's fields first, in its order
                LedgerEntry.id,
                LedgerEntry.subscriber_id,
                LedgerEntry.email,
                Subscriber.first_name,
                Subscriber.last_name,
                LedgerEntry.attempts,
                Subscriber.status,
            )
            .outerjoin(Subscriber, Subscriber.id == LedgerEntry.subscriber_id)
            .where(LedgerEntry.campaign_id == self.campaign_id, LedgerEntry.state == LEDGER_PENDING)
            .order_by(LedgerEntry.position)
            .limit(batch_size)
        )
        if self._is_postgres:  # parallel workers each take their own rows
            query = query.with_for_update(of=LedgerEntry, skip_locked=True)
        return query

    def _ids_in(self, ids: Sequence[int]) -> ColumnElement[bool]:
        """`id IN (...)` with the ids as ONE parameter: SQLAlchemy renders a list of a thousand
        parameters in Python on every call, which cost more than the UPDATE itself."""
        if self._is_postgres:
            listed = func.unnest(cast(bindparam(None, pg_array(ids), type_=String), ARRAY(Integer)))
            return LedgerEntry.id.in_(select(listed))
        listed_sqlite = func.json_each(bindparam(None, json.dumps(list(ids)), type_=String))
        return LedgerEntry.id.in_(select(listed_sqlite.table_valued("value").c.value))

    @staticmethod
    def _still_wanted(
        conn: Connection, rows: Sequence[Row[Any]]
    ) -> tuple[list[Row[Any]], dict[str, list[int]]]:
        """Split rows into those still active and unsuppressed, and the rest's ids grouped by why."""
        suppressed: set[str] = set()
        # Hashing every address costs more than the batch's queries; most lists have no suppressions.
        any_suppression = conn.scalar(select(Suppression.email_hash).limit(1)) is not None
        hashes = [email_hash(r.email) for r in rows] if any_suppression else [""] * len(rows)
        if any_suppression:
            suppressed.update(
                conn.scalars(select(Suppression.email_hash).where(Suppression.email_hash.in_(hashes)))
            )
        chosen: list[Row[Any]] = []
        skipped: dict[str, list[int]] = {}
        for r, hashed in zip(rows, hashes, strict=True):
            if r.status == ACTIVE and hashed not in suppressed:
                chosen.append(r)
                continue
            why = f"{r.status or 'deleted'}" if r.status != ACTIVE else "suppressed"
            skipped.setdefault(f"{why} before its batch", []).append(r.id)
        return chosen, skipped

    def record(self, entry_ids: Sequence[int], outcomes: Sequence[Outcome]) -> Counter[str]:
        """Write one batch's outcomes in one transaction (one UPDATE per distinct outcome).

        Returns how many recipients settled in each state (those put back `pending` not counted).
        """
        now = utcnow()
        groups: dict[Outcome, list[int]] = {}
        if outcomes and all(o is outcomes[0] for o in outcomes):  # the usual case: one outcome for all
            groups[outcomes[0]] = list(entry_ids)
        for entry_id, outcome in zip(entry_ids, outcomes, strict=True) if not groups else ():
            groups.setdefault(outcome, []).append(entry_id)
        with self._write_lock, store_errors(), self.engine.begin() as conn:
            for (state, message_id, reason), group in groups.items():
                conn.execute(
                    update(LedgerEntry)
                    .where(self._ids_in(group))
                    .values(state=state, message_id=message_id, reason=reason, updated_at=now)
                )
        settled: Counter[str] = Counter()
        for outcome, group in groups.items():
            if outcome.state != LEDGER_PENDING:
                settled[outcome.state] += len(group)
        return settled
