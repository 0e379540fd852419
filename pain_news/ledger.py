"""The send ledger: campaigns and one row per recipient per campaign — the only SQL about them.

A recipient moves pending → in_flight → sent | failed | uncertain (docs/design/sending.md). A batch
is claimed (written `in_flight`) in one transaction before the provider is called and its
outcome written in one transaction after; "finished" is derived from the counts (`is_finished`),
never stored. `campaign/` decides what to do; this module only reads and writes.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import (
    DateTime,
    Engine,
    Integer,
    Select,
    String,
    case,
    distinct,
    func,
    insert,
    literal,
    null,
    select,
    text,
    update,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from pain_news import db
from pain_news.models import (
    ACTIVE,
    LEDGER_FAILED,
    LEDGER_IN_FLIGHT,
    LEDGER_PENDING,
    LEDGER_SKIPPED,
    LEDGER_STATES,
    LEDGER_UNCERTAIN,
    OPTED_OUT,
    Campaign,
    DeliveryEvent,
    LedgerEntry,
    Subscriber,
    SubscriberEvent,
    Suppression,
    utcnow,
)
from pain_news.store import email_hash

if TYPE_CHECKING:
    from pain_news.store import SubscriberStore

_CREATE_LOCK = 0x504E01  # PostgreSQL advisory-lock namespace: campaign creation, keyed by issue


def is_finished(counts: Mapping[str, int]) -> bool:
    """A campaign is finished when nobody is left pending or in flight (the one definition)."""
    return not (counts.get(LEDGER_PENDING) or counts.get(LEDGER_IN_FLIGHT))


@contextmanager
def _store_errors() -> Iterator[None]:
    """Database failures leave the ledger as StoreError (one line, no statement or parameters)."""
    # TODO(house): switch to the shared conversion helper in db.py once it is on main.
    try:
        yield
    except DBAPIError as exc:
        raise db.describe_error(exc) from exc


def audience() -> Select[tuple[Subscriber]]:
    """Who a new campaign considers: every subscriber (only `active` ones are mailed), in id order.

    The one place the recipient list is chosen: a topic-targeted send narrows this query, and the
    plan's counts, the dry run and the campaign's ledger rows all follow it.
    """
    return select(Subscriber)


@dataclass(frozen=True, kw_only=True)
class CampaignRecord:
    """One campaign and its frozen copy (what every batch of it sends)."""

    id: int
    issue: str  # issue folder name
    subject: str
    provider: str
    html: str
    text: str
    created_at: dt.datetime

    @classmethod
    def of(cls, c: Campaign) -> CampaignRecord:
        return cls(
            id=c.id,
            issue=c.issue,
            subject=c.subject,
            provider=c.provider,
            html=c.html,
            text=c.text,
            created_at=c.created_at,
        )


@dataclass(frozen=True, kw_only=True)
class NewCampaign:
    """A campaign to create; `seen_campaign_id` is the issue's newest campaign when the send was planned."""

    issue: str
    subject: str
    provider: str
    html: str
    text: str
    seen_campaign_id: int | None


@dataclass(frozen=True, kw_only=True)
class Created:
    """The new campaign's id, or None when another send created `newest` since the plan (nothing written)."""

    campaign_id: int | None
    newest: int | None


@dataclass(frozen=True, kw_only=True)
class ClaimedEntry:
    """One recipient of a claimed batch, with what personalising needs."""

    entry_id: int
    subscriber_id: int
    email: str
    first_name: str
    last_name: str


@dataclass(frozen=True, kw_only=True)
class Claim:
    """A batch now `in_flight` (possibly empty when all of it opted out), and how many were skipped."""

    entries: list[ClaimedEntry]
    attempts: int  # the highest attempt number in the batch, this one included
    skipped: int


class Outcome(NamedTuple):
    """What to record for one recipient: a ledger state, and the provider's message id or reason."""

    state: str
    message_id: str | None = None
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class CampaignFigures:
    """What `report` shows beside the counts: who failed or is uncertain, opt-outs, webhook events."""

    failed: list[tuple[str, str]]  # (address, reason)
    uncertain: list[str]
    opt_outs: dict[str, int]  # unsubscribed / bounced / complained attributed to the campaign
    events: dict[str, int]  # webhook events: distinct recipients per event type
    recipients: list[dict[str, Any]] | None


class CampaignLedger:
    """Campaigns and their per-recipient ledger; each method is one short transaction."""

    def __init__(self, engine: Engine, reader: Engine) -> None:
        self.engine = engine
        self.reader = reader  # read-only queries: never hold the SQLite write lock

    @classmethod
    def for_store(cls, store: SubscriberStore) -> CampaignLedger:
        """The ledger in the same database as `store` (sharing its connection pools)."""
        return cls(store.engine, store.reader)

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @property
    def database_file(self) -> Path | None:
        """The SQLite file (None on PostgreSQL or in memory): file locks live beside it."""
        database = self.engine.url.database
        if self.is_postgres or not database or database == ":memory:":
            return None
        return Path(database)

    # ---- campaigns ------------------------------------------------------------------------

    def latest(self, issue: str) -> CampaignRecord | None:
        """The newest campaign of an issue (by folder name)."""
        with _store_errors(), Session(self.reader) as s:
            found = s.scalar(
                select(Campaign).where(Campaign.issue == issue).order_by(Campaign.id.desc()).limit(1)
            )
            return CampaignRecord.of(found) if found else None

    def get(self, campaign_id: int) -> CampaignRecord | None:
        """The campaign with this id, or None."""
        with _store_errors(), Session(self.reader) as s:
            found = s.get(Campaign, campaign_id)
            return CampaignRecord.of(found) if found else None

    def campaigns(self) -> list[tuple[CampaignRecord, dict[str, int]]]:
        """Every campaign, newest first, with its ledger counts (two queries, whatever the number)."""
        with _store_errors(), Session(self.reader) as s:
            found = [CampaignRecord.of(c) for c in s.scalars(select(Campaign).order_by(Campaign.id.desc()))]
            rows = s.execute(
                select(LedgerEntry.campaign_id, LedgerEntry.state, func.count()).group_by(
                    LedgerEntry.campaign_id, LedgerEntry.state
                )
            )
            per: dict[int, dict[str, int]] = {}
            for cid, state, n in rows:
                per.setdefault(cid, {})[state] = int(n)
        return [(c, _all_states(per.get(c.id, {}))) for c in found]

    def create(self, new: NewCampaign, *, now: dt.datetime | None = None) -> Created:
        """The campaign row, its frozen copy and one ledger row per subscriber of the audience — one transaction.

        Active subscribers start `pending`; everyone else is recorded `skipped` with the reason, so
        `report --recipients` can answer "did this patient get it?" for anyone on the list. Writes
        nothing when another send of the issue created a campaign since `new` was planned (two
        terminals at the prompt would otherwise each mail everyone).
        """
        now = now or utcnow()
        with _store_errors(), Session(self.engine) as s, s.begin():
            # Serialise creation per issue: SQLite's BEGIN IMMEDIATE already does; PostgreSQL takes a
            # transaction-level advisory lock keyed by the issue.
            if self.is_postgres:
                s.execute(
                    text("SELECT pg_advisory_xact_lock(:k, hashtext(:issue))"),
                    {"k": _CREATE_LOCK, "issue": new.issue},
                )
            newest = s.scalar(select(func.max(Campaign.id)).where(Campaign.issue == new.issue))
            if newest != new.seen_campaign_id:
                return Created(campaign_id=None, newest=newest)
            campaign = Campaign(
                issue=new.issue,
                subject=new.subject,
                provider=new.provider,
                html=new.html,
                text=new.text,
                created_at=now,
            )
            s.add(campaign)
            s.flush()
            s.execute(_ledger_rows(campaign.id, now))
            return Created(campaign_id=int(campaign.id), newest=int(campaign.id))

    # ---- counts and report ----------------------------------------------------------------

    def counts(self, campaign_id: int) -> dict[str, int]:
        """Number of recipients in each ledger state (every state present, in ledger order)."""
        with _store_errors(), self.reader.connect() as conn:
            rows = conn.execute(
                select(LedgerEntry.state, func.count())
                .where(LedgerEntry.campaign_id == campaign_id)
                .group_by(LedgerEntry.state)
            )
            return _all_states({state: int(n) for state, n in rows})

    def audience_counts(self) -> Counter[str]:
        """Subscribers of the audience per status: the plan's "to send", "opted out", "not confirmed"."""
        who = audience().subquery()
        with _store_errors(), self.reader.connect() as conn:
            rows = conn.execute(select(who.c.status, func.count()).group_by(who.c.status))
            return Counter({status: int(n) for status, n in rows})

    def figures(self, campaign_id: int, *, recipients: bool = False) -> CampaignFigures:
        """Failed and uncertain recipients, opt-outs and webhook events of one campaign (one read)."""
        cid = campaign_id
        with _store_errors(), self.reader.connect() as conn:
            failed = [
                (e, r or "")
                for e, r in conn.execute(
                    select(LedgerEntry.email, LedgerEntry.reason)
                    .where(LedgerEntry.campaign_id == cid, LedgerEntry.state == LEDGER_FAILED)
                    .order_by(LedgerEntry.position)
                )
            ]
            uncertain = list(
                conn.scalars(
                    select(LedgerEntry.email)
                    .where(
                        LedgerEntry.campaign_id == cid,
                        LedgerEntry.state.in_((LEDGER_UNCERTAIN, LEDGER_IN_FLIGHT)),
                    )
                    .order_by(LedgerEntry.position)
                )
            )
            opt_outs = {
                status: int(n)
                for status, n in conn.execute(
                    select(SubscriberEvent.new_status, func.count(distinct(SubscriberEvent.subscriber_id)))
                    .where(SubscriberEvent.campaign_id == cid, SubscriberEvent.new_status.in_(OPTED_OUT))
                    .group_by(SubscriberEvent.new_status)
                )
            }
            events = {
                event: int(n)
                for event, n in conn.execute(
                    select(
                        DeliveryEvent.event,
                        func.count(distinct(func.coalesce(DeliveryEvent.subscriber_id, DeliveryEvent.id))),
                    )
                    .where(DeliveryEvent.campaign_id == cid)
                    .group_by(DeliveryEvent.event)
                )
            }
            rows = _recipient_rows(conn, cid) if recipients else None
        return CampaignFigures(
            failed=failed, uncertain=uncertain, opt_outs=opt_outs, events=events, recipients=rows
        )

    # ---- a run ----------------------------------------------------------------------------

    def reset_for_run(
        self, campaign_id: int, *, resend_uncertain: bool = False, retry_failed: bool = False
    ) -> int:
        """Apply the restart rules and the flags (one transaction); returns how many are pending now."""
        now = utcnow()
        with _store_errors(), Session(self.engine) as s, s.begin():
            # A batch still in flight belongs to a run that died: its outcome is unknown.
            reason = "the sending process stopped while this batch was in flight"
            _move(s, campaign_id, LEDGER_IN_FLIGHT, LEDGER_UNCERTAIN, now, reason)
            if resend_uncertain:
                _move(s, campaign_id, LEDGER_UNCERTAIN, LEDGER_PENDING, now)
            if retry_failed:
                _move(s, campaign_id, LEDGER_FAILED, LEDGER_PENDING, now)
            pending = (LedgerEntry.campaign_id == campaign_id, LedgerEntry.state == LEDGER_PENDING)
            s.execute(update(LedgerEntry).where(*pending).values(attempts=0))
            return int(s.scalar(select(func.count()).where(*pending)) or 0)

    def writer(self, campaign_id: int) -> BatchWriter:
        """The claim/record side of one run of a campaign, shared by its worker threads."""
        return BatchWriter(self, campaign_id)

    def unsent(self, campaign_id: int | None) -> Iterator[tuple[ClaimedEntry, bool]]:
        """Who a run would mail now, and whether each is suppressed — for a dry run (reads only).

        A new campaign (None): the active subscribers of the audience. An existing one: its pending
        recipients still active.
        """
        with _store_errors(), self.reader.connect() as conn:
            suppressed = set(conn.scalars(select(Suppression.email_hash)))
            if campaign_id is None:
                who = audience().where(Subscriber.status == ACTIVE).subquery()
                query = select(literal(0), who.c.id, who.c.email, who.c.first_name, who.c.last_name).order_by(
                    who.c.id
                )
            else:
                query = (
                    select(
                        LedgerEntry.id,
                        LedgerEntry.subscriber_id,
                        LedgerEntry.email,
                        Subscriber.first_name,
                        Subscriber.last_name,
                    )
                    .join(Subscriber, Subscriber.id == LedgerEntry.subscriber_id)
                    .where(
                        LedgerEntry.campaign_id == campaign_id,
                        LedgerEntry.state == LEDGER_PENDING,
                        Subscriber.status == ACTIVE,
                    )
                )
            for entry_id, sid, email, first, last in conn.execute(query):
                entry = ClaimedEntry(
                    entry_id=entry_id, subscriber_id=sid, email=email, first_name=first, last_name=last
                )
                yield entry, bool(suppressed) and email_hash(email) in suppressed

    def suppressed(self, addresses: Sequence[str]) -> set[str]:
        """Those of `addresses` on the suppression list (deleted, or opted out at the provider)."""
        hashes = {email_hash(a): a for a in addresses}
        with _store_errors(), self.reader.connect() as conn:
            found = conn.scalars(select(Suppression.email_hash).where(Suppression.email_hash.in_(hashes)))
            return {hashes[h] for h in found}

    @contextmanager
    def advisory_lock(self, namespace: int, key: int) -> Iterator[bool]:
        """PostgreSQL: try a session advisory lock on its own connection, held until the block ends.

        Yields whether it was taken. The server releases it when the process dies, so a killed
        send never leaves a stale lock.
        """
        params = {"k": namespace, "c": key}
        with _store_errors(), self.engine.connect() as conn:
            got = bool(conn.scalar(text("SELECT pg_try_advisory_lock(:k, :c)"), params))
            conn.commit()
            try:
                yield got
            finally:
                if got:
                    conn.execute(text("SELECT pg_advisory_unlock(:k, :c)"), params)
                    conn.commit()


class BatchWriter:
    """Claims batches and records their outcomes for one run; each call is one short transaction."""

    def __init__(self, ledger: CampaignLedger, campaign_id: int) -> None:
        self.ledger = ledger
        self.campaign_id = campaign_id
        # One ledger writer at a time within this process: SQLite would otherwise make the other
        # threads busy-wait (sleeping up to 100 ms a try) for its write lock.
        self._write_lock = threading.Lock()
        with _store_errors(), ledger.reader.connect() as conn:
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
        engine = self.ledger.engine
        with self._write_lock, _store_errors(), engine.begin() as conn:  # Core: no ORM bookkeeping
            query = (
                select(
                    LedgerEntry.id,
                    LedgerEntry.subscriber_id,
                    LedgerEntry.email,
                    LedgerEntry.attempts,
                    Subscriber.status,
                    Subscriber.first_name,
                    Subscriber.last_name,
                )
                .outerjoin(Subscriber, Subscriber.id == LedgerEntry.subscriber_id)
                .where(LedgerEntry.campaign_id == self.campaign_id, LedgerEntry.state == LEDGER_PENDING)
                .order_by(LedgerEntry.position)
                .limit(batch_size)
            )
            if self.ledger.is_postgres:
                query = query.with_for_update(of=LedgerEntry, skip_locked=True)
            rows = conn.execute(query).all()
            if not rows:
                return None
            hashes = [email_hash(r.email) for r in rows]
            suppressed = set(
                conn.scalars(select(Suppression.email_hash).where(Suppression.email_hash.in_(hashes)))
            )
            skipped: dict[str, list[int]] = {}
            chosen, attempts = [], 0
            for r, hashed in zip(rows, hashes, strict=True):
                if r.status != ACTIVE or hashed in suppressed:
                    why = f"{r.status or 'deleted'}" if r.status != ACTIVE else "suppressed"
                    skipped.setdefault(f"{why} before its batch", []).append(r.id)
                    continue
                chosen.append(r)
                attempts = max(attempts, r.attempts + 1)
            for why, skip_ids in skipped.items():
                conn.execute(
                    update(LedgerEntry)
                    .where(LedgerEntry.id.in_(skip_ids))
                    .values(state=LEDGER_SKIPPED, reason=why, updated_at=now)
                )
            if chosen:
                self._batch += 1
                conn.execute(
                    update(LedgerEntry)
                    .where(LedgerEntry.id.in_([r.id for r in chosen]))
                    .values(
                        state=LEDGER_IN_FLIGHT,
                        batch=self._batch,
                        attempts=LedgerEntry.attempts + 1,
                        updated_at=now,
                    )
                )
        entries = [
            ClaimedEntry(
                entry_id=r.id,
                subscriber_id=r.subscriber_id,
                email=r.email,
                first_name=r.first_name,
                last_name=r.last_name,
            )
            for r in chosen
        ]
        return Claim(entries=entries, attempts=attempts, skipped=sum(len(v) for v in skipped.values()))

    def record(self, entry_ids: Sequence[int], outcomes: Sequence[Outcome]) -> Counter[str]:
        """Write one batch's outcomes in one transaction (one UPDATE per distinct outcome).

        Returns how many recipients settled in each state (those put back `pending` not counted).
        """
        now = utcnow()
        groups: dict[Outcome, list[int]] = {}
        for entry_id, outcome in zip(entry_ids, outcomes, strict=True):
            groups.setdefault(outcome, []).append(entry_id)
        with self._write_lock, _store_errors(), self.ledger.engine.begin() as conn:
            for (state, message_id, reason), group in groups.items():
                conn.execute(
                    update(LedgerEntry)
                    .where(LedgerEntry.id.in_(group))
                    .values(state=state, message_id=message_id, reason=reason, updated_at=now)
                )
        settled: Counter[str] = Counter()
        for outcome, group in groups.items():
            if outcome.state != LEDGER_PENDING:
                settled[outcome.state] += len(group)
        return settled


def _all_states(found: Mapping[str, int]) -> dict[str, int]:
    return {state: found.get(state, 0) for state in LEDGER_STATES}


def _ledger_rows(campaign_id: int, now: dt.datetime) -> Any:
    """INSERT … SELECT of the audience into the ledger: pending when active, else skipped with why."""
    who = audience().subquery()
    active = who.c.status == ACTIVE
    rows = select(
        literal(campaign_id, Integer),
        who.c.id,
        who.c.id,
        who.c.email,
        case((active, literal(LEDGER_PENDING, String)), else_=literal(LEDGER_SKIPPED, String)),
        case((active, null()), else_=who.c.status + literal(" at the start of the send", String)),
        literal(0, Integer),
        literal(now, DateTime(timezone=True)),
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
    ]
    return insert(LedgerEntry).from_select(columns, rows)


def _recipient_rows(conn: Any, campaign_id: int) -> list[dict[str, Any]]:
    query = (
        select(
            LedgerEntry.email,
            LedgerEntry.subscriber_id,
            LedgerEntry.state,
            LedgerEntry.message_id,
            LedgerEntry.reason,
        )
        .where(LedgerEntry.campaign_id == campaign_id)
        .order_by(LedgerEntry.position)
    )
    return [
        {"email": e, "subscriber_id": sid, "state": st, "message_id": mid, "reason": why}
        for e, sid, st, mid, why in conn.execute(query)
    ]


def _move(
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
