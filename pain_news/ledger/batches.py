"""One run's writes: claim a batch (in_flight) before the provider is called, record its outcome after."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Connection,
    Engine,
    Integer,
    String,
    bindparam,
    cast,
    func,
    select,
    update,
)

from pain_news.db import is_postgresql, store_errors
from pain_news.db.models import LedgerEntry, Subscriber, Suppression, utcnow
from pain_news.ledger.records import Claim, ClaimedEntry, Outcome
from pain_news.subscribers.store import lookup_hashes, pg_array
from pain_news.vocab import ACTIVE, LEDGER_IN_FLIGHT, LEDGER_PENDING, LEDGER_SKIPPED


class BatchWriter:
    """Claims batches and records their outcomes for one run; each call is one short transaction."""

    def __init__(
        self, engine: Engine, reader: Engine, campaign_id: int, languages: Sequence[str] = ()
    ) -> None:
        self.engine = engine
        self.campaign_id = campaign_id
        # One edition's recipients at a time (its languages; "" on rows older than editions): a
        # batch is one message, so one edition (docs/design/send-ledger.md).
        self.languages = tuple(languages)
        self._is_postgres = is_postgresql(engine)
        # One ledger writer at a time within this process: SQLite would otherwise make the other
        # threads busy-wait (sleeping up to 100 ms a try) for its write lock.
        self._write_lock = threading.Lock()
        with store_errors(), reader.connect() as conn:
            last = conn.scalar(
                select(func.max(LedgerEntry.batch)).where(LedgerEntry.campaign_id == campaign_id)
            )
        self._batch = int(last or 0)
        self._build_statements()

    def claim(self, batch_size: int) -> Claim | None:
        """Take the next pending batch: re-read statuses, skip opt-outs, mark the rest in_flight.

        One transaction, so an opt-out that arrives during the send is honoured at its batch.
        None when nothing is pending any more.
        """
        with self._write_lock, store_errors(), self.engine.begin() as conn:  # Core: no ORM bookkeeping
            return self._claim_in(conn, batch_size, utcnow())

    def record_and_claim(
        self, entry_ids: Sequence[int], outcomes: Sequence[Outcome], batch_size: int
    ) -> tuple[Counter[str], Claim | None]:
        """`record` one batch and `claim` the next in ONE transaction: the same two writes, one commit.

        On SQLite every commit waits for the disk (synchronous=FULL), and those waits were the
        largest part of a large send's ledger time. The outcome is as durable as before: it is
        committed right after the provider answered, with the next claim.
        """
        now = utcnow()
        with self._write_lock, store_errors(), self.engine.begin() as conn:
            settled = self._record_in(conn, entry_ids, outcomes, now)
            return settled, self._claim_in(conn, batch_size, now)

    def _claim_in(self, conn: Connection, batch_size: int, now: dt.datetime) -> Claim | None:
        rows = conn.execute(self._pending, {"campaign": self.campaign_id, "size": batch_size}).all()
        if not rows:
            return None
        entries, attempts, skipped = _still_wanted(rows, self._suppressed(conn, rows))
        for why, skip_ids in skipped.items():
            conn.execute(self._skip, {"ids": self._id_list(skip_ids), "reason": why, "now": now})
        if entries:
            self._batch += 1
            ids = self._id_list([e.entry_id for e in entries])
            conn.execute(self._in_flight, {"ids": ids, "batch": self._batch, "now": now})
        return Claim(entries=entries, attempts=attempts, skipped=sum(len(v) for v in skipped.values()))

    def _build_statements(self) -> None:
        """The run's statements, built once: building one per batch cost more than running it."""
        self._pending = (
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
            .where(LedgerEntry.campaign_id == bindparam("campaign"), LedgerEntry.state == LEDGER_PENDING)
            .order_by(LedgerEntry.position)
            .limit(bindparam("size", type_=Integer))
        )
        if self.languages:
            self._pending = self._pending.where(LedgerEntry.language.in_(self.languages))
        if self._is_postgres:  # parallel workers each take their own rows
            self._pending = self._pending.with_for_update(of=LedgerEntry, skip_locked=True)
        in_ids = self._ids_in(bindparam("ids", type_=String))
        self._skip = (
            update(LedgerEntry)
            .where(in_ids)
            .values(state=LEDGER_SKIPPED, reason=bindparam("reason"), updated_at=bindparam("now"))
        )
        self._in_flight = (
            update(LedgerEntry)
            .where(in_ids)
            .values(
                state=LEDGER_IN_FLIGHT,
                batch=bindparam("batch"),
                attempts=LedgerEntry.attempts + 1,
                updated_at=bindparam("now"),
            )
        )
        self._outcome = (
            update(LedgerEntry)
            .where(in_ids)
            .values(
                state=bindparam("state"),
                message_id=bindparam("message_id"),
                reason=bindparam("reason"),
                updated_at=bindparam("now"),
            )
        )
        self._any_suppression = select(Suppression.email_hash).limit(1)
        self._suppressed_of = select(Suppression.email_hash).where(
            Suppression.email_hash.in_(bindparam("hashes", expanding=True))
        )

    def _ids_in(self, ids: BindParameter[str]) -> ColumnElement[bool]:
        """`id IN (...)` with the ids as ONE parameter (see _id_list): SQLAlchemy renders a list of a
        thousand parameters in Python on every call, which cost more than the UPDATE itself."""
        if self._is_postgres:
            from sqlalchemy.dialects.postgresql import ARRAY  # its 40 ms import only where it is used

            listed = func.unnest(cast(ids, ARRAY(Integer)))
            return LedgerEntry.id.in_(select(listed))
        return LedgerEntry.id.in_(select(func.json_each(ids).table_valued("value").c.value))

    def _id_list(self, ids: Sequence[int]) -> str:
        """The one parameter `_ids_in` takes: a PostgreSQL array literal, or a JSON array for SQLite."""
        return pg_array(ids) if self._is_postgres else "[" + ",".join(map(str, ids)) + "]"

    def _suppressed(self, conn: Connection, rows: Sequence[Any]) -> set[str] | None:
        """The hashes of this batch's suppressed addresses; None when nothing at all is suppressed
        (hashing every address costs more than the batch's queries, and most lists have none)."""
        if conn.scalar(self._any_suppression) is None:
            return None
        hashes = [h for r in rows for h in lookup_hashes(r[2])]
        return set(conn.scalars(self._suppressed_of, {"hashes": hashes}))

    def record(self, entry_ids: Sequence[int], outcomes: Sequence[Outcome]) -> Counter[str]:
        """Write one batch's outcomes in one transaction (one UPDATE per distinct outcome).

        Returns how many recipients settled in each state (those put back `pending` not counted).
        """
        with self._write_lock, store_errors(), self.engine.begin() as conn:
            return self._record_in(conn, entry_ids, outcomes, utcnow())

    def _record_in(
        self, conn: Connection, entry_ids: Sequence[int], outcomes: Sequence[Outcome], now: dt.datetime
    ) -> Counter[str]:
        groups: dict[Outcome, list[int]] = {}
        if outcomes and all(o is outcomes[0] for o in outcomes):  # the usual case: one outcome for all
            groups[outcomes[0]] = list(entry_ids)
        for entry_id, outcome in zip(entry_ids, outcomes, strict=True) if not groups else ():
            groups.setdefault(outcome, []).append(entry_id)
        for (state, message_id, reason), group in groups.items():
            values = {"state": state, "message_id": message_id, "reason": reason, "now": now}
            conn.execute(self._outcome, {"ids": self._id_list(group), **values})
        settled: Counter[str] = Counter()
        for outcome, group in groups.items():
            if outcome.state != LEDGER_PENDING:
                settled[outcome.state] += len(group)
        return settled


def _still_wanted(
    rows: Sequence[Any], suppressed: set[str] | None
) -> tuple[list[ClaimedEntry], int, dict[str, list[int]]]:
    """The batch's entries still active and unsuppressed, their highest attempt number (this one
    included), and the rest's ledger ids grouped by why — in one pass over the rows."""
    entries: list[ClaimedEntry] = []
    attempts = 0
    skipped: dict[str, list[int]] = {}
    for entry_id, subscriber_id, email, first, last, tried, status in rows:
        if status == ACTIVE and (suppressed is None or suppressed.isdisjoint(lookup_hashes(email))):
            entries.append(ClaimedEntry(entry_id, subscriber_id, email, first, last))
            attempts = max(attempts, tried + 1)
            continue
        why = f"{status or 'deleted'}" if status != ACTIVE else "suppressed"
        skipped.setdefault(f"{why} before its batch", []).append(entry_id)
    return entries, attempts, skipped
