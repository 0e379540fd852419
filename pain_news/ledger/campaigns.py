"""CampaignLedger: campaigns, their counts and report figures, the restart rules, and locks."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, distinct, func, literal, select, text, update
from sqlalchemy.orm import Session

from pain_news.config.clock import as_utc
from pain_news.db import is_postgresql, store_errors
from pain_news.db.models import (
    Campaign,
    CampaignEdition,
    DeliveryEvent,
    LedgerEntry,
    Subscriber,
    SubscriberEvent,
    SubscriberTopic,
    Suppression,
    utcnow,
)
from pain_news.ledger.batches import BatchWriter
from pain_news.ledger.queries import audience, ledger_rows, move, recipient_rows
from pain_news.ledger.records import (
    CampaignFigures,
    CampaignRecord,
    ClaimedEntry,
    Created,
    FrozenEdition,
    NewCampaign,
    all_states,
)
from pain_news.subscribers.store import lookup_hashes
from pain_news.vocab import (
    ACTIVE,
    CAMPAIGN_ISSUE,
    CAMPAIGN_WELCOME,
    LEDGER_CANCELLED,
    LEDGER_FAILED,
    LEDGER_HELD,
    LEDGER_IN_FLIGHT,
    LEDGER_PAUSED,
    LEDGER_PENDING,
    LEDGER_SENT,
    LEDGER_UNCERTAIN,
    LEDGER_WAITING,
    OPTED_OUT,
)

if TYPE_CHECKING:
    from pain_news.subscribers.store import SubscriberStore

_CREATE_LOCK = 0x504E01  # PostgreSQL advisory-lock namespace: campaign creation, keyed by issue
_WELCOME_LOCK = 0x504E03  # PostgreSQL advisory-lock namespace: one subscriber's welcome row
# Advisory locks are per database, but campaign ids and issues are per schema: two installations
# (or two test runs) sharing a database in different schemas must not block each other.
_SCOPED = "hashtext(current_schema() || ':' || :key)"


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
        return is_postgresql(self.engine)

    @property
    def database_file(self) -> Path | None:
        """The SQLite file (None on PostgreSQL or in memory): file locks live beside it."""
        database = self.engine.url.database
        if self.is_postgres or not database or database == ":memory:":
            return None
        return Path(database)

    # ---- campaigns ------------------------------------------------------------------------

    def latest(self, issue: str, kind: str = CAMPAIGN_ISSUE) -> CampaignRecord | None:
        """The newest campaign of an issue (by folder name); welcome campaigns are a kind of their own."""
        with store_errors(), Session(self.reader) as s:
            found = s.scalar(
                select(Campaign)
                .where(Campaign.issue == issue, Campaign.kind == kind)
                .order_by(Campaign.id.desc())
                .limit(1)
            )
            return CampaignRecord.of(found) if found else None

    def get(self, campaign_id: int) -> CampaignRecord | None:
        """The campaign with this id, or None."""
        with store_errors(), Session(self.reader) as s:
            found = s.get(Campaign, campaign_id)
            return CampaignRecord.of(found) if found else None

    def campaigns(self) -> list[tuple[CampaignRecord, dict[str, int]]]:
        """Every campaign, newest first, with its ledger counts (two queries, whatever the number)."""
        with store_errors(), Session(self.reader) as s:
            found = [CampaignRecord.of(c) for c in s.scalars(select(Campaign).order_by(Campaign.id.desc()))]
            rows = s.execute(
                select(LedgerEntry.campaign_id, LedgerEntry.state, func.count()).group_by(
                    LedgerEntry.campaign_id, LedgerEntry.state
                )
            )
            per: dict[int, dict[str, int]] = {}
            for cid, state, n in rows:
                per.setdefault(cid, {})[state] = int(n)
        return [(c, all_states(per.get(c.id, {}))) for c in found]

    def create(self, new: NewCampaign, *, now: dt.datetime | None = None) -> Created:
        """The campaign row, its frozen copy and one ledger row per subscriber of the audience — one transaction.

        Active subscribers start `pending`; everyone else is recorded `skipped` with the reason, so
        `report --recipients` can answer "did this patient get it?" for anyone on the list. Writes
        nothing when another send of the issue created a campaign since `new` was planned (two
        terminals at the prompt would otherwise each mail everyone).
        """
        now = now or utcnow()
        with store_errors(), Session(self.engine) as s, s.begin():
            # Serialise creation per issue: SQLite's BEGIN IMMEDIATE already does; PostgreSQL takes a
            # transaction-level advisory lock keyed by the issue (within this schema: see _SCOPED).
            if self.is_postgres:
                s.execute(
                    text(f"SELECT pg_advisory_xact_lock(:k, {_SCOPED})"),
                    {"k": _CREATE_LOCK, "key": new.issue},
                )
            newest = s.scalar(
                select(func.max(Campaign.id)).where(Campaign.issue == new.issue, Campaign.kind == new.kind)
            )
            if newest != new.seen_campaign_id:
                return Created(campaign_id=None, newest=newest)
            campaign = Campaign(
                issue=new.issue,
                subject=new.subject,
                provider=new.provider,
                html=new.html,
                text=new.text,
                created_at=now,
                kind=new.kind,
                scheduled_at=new.scheduled_at,
                batch_id=new.batch_id,
                asm_group_id=new.asm_group_id,
                topics=";".join(sorted(new.topics)),
                approval_id=new.approval_id,
                language=new.language,
            )
            s.add(campaign)
            s.flush()
            s.add_all(
                CampaignEdition(
                    campaign_id=campaign.id, language=e.language, subject=e.subject, html=e.html, text=e.text
                )
                for e in new.editions
            )
            if new.kind == CAMPAIGN_ISSUE:  # a welcome campaign gains one row per confirmed subscriber
                others = [e.language for e in new.editions]
                s.execute(ledger_rows(campaign.id, now, new.topics, language=new.language, others=others))
            return Created(campaign_id=int(campaign.id), newest=int(campaign.id))

    # ---- counts and report ----------------------------------------------------------------

    def counts(self, campaign_id: int) -> dict[str, int]:
        """Number of recipients in each ledger state (every state present, in ledger order)."""
        with store_errors(), self.reader.connect() as conn:
            rows = conn.execute(
                select(LedgerEntry.state, func.count())
                .where(LedgerEntry.campaign_id == campaign_id)
                .group_by(LedgerEntry.state)
            )
            return all_states({state: int(n) for state, n in rows})

    def editions(self, campaign_id: int) -> tuple[FrozenEdition, ...]:
        """The campaign's frozen editions besides the default one (its own subject, html, text)."""
        query = (
            select(CampaignEdition)
            .where(CampaignEdition.campaign_id == campaign_id)
            .order_by(CampaignEdition.language)
        )
        with store_errors(), Session(self.reader) as s:
            return tuple(
                FrozenEdition(language=e.language, subject=e.subject, html=e.html, text=e.text)
                for e in s.scalars(query)
            )

    def counts_by_language(self, campaign_id: int, default: str) -> dict[str, dict[str, int]]:
        """Recipients in each ledger state per edition's language (rows older than editions count
        as `default`'s), languages in alphabetical order."""
        edition = func.coalesce(func.nullif(LedgerEntry.language, ""), default)
        query = (
            select(edition, LedgerEntry.state, func.count())
            .where(LedgerEntry.campaign_id == campaign_id)
            .group_by(edition, LedgerEntry.state)
        )
        found: dict[str, dict[str, int]] = {}
        with store_errors(), self.reader.connect() as conn:
            for language, state, n in conn.execute(query):
                found.setdefault(str(language), {})[state] = int(n)
        return {language: all_states(found[language]) for language in sorted(found)}

    def active_per_language(self, topics: Sequence[str] = ()) -> Counter[str]:
        """Active subscribers of the audience per language they chose (the plan's per-edition counts)."""
        who = audience(topics).where(Subscriber.status == ACTIVE).subquery()
        with store_errors(), self.reader.connect() as conn:
            rows = conn.execute(select(who.c.language, func.count()).group_by(who.c.language))
            return Counter({language: int(n) for language, n in rows})

    def audience_counts(self, topics: Sequence[str] = ()) -> Counter[str]:
        """Subscribers of the audience per status: the plan's "to send", "opted out", "not confirmed"."""
        who = audience(topics).subquery()
        with store_errors(), self.reader.connect() as conn:
            rows = conn.execute(select(who.c.status, func.count()).group_by(who.c.status))
            return Counter({status: int(n) for status, n in rows})

    def active_per_topic(self, topics: Sequence[str]) -> dict[str, int]:
        """Active subscribers who chose each topic (one reader with two topics counts in both)."""
        query = (
            select(SubscriberTopic.topic, func.count())
            .join(Subscriber, Subscriber.id == SubscriberTopic.subscriber_id)
            .where(SubscriberTopic.topic.in_(topics), Subscriber.status == ACTIVE)
            .group_by(SubscriberTopic.topic)
        )
        with store_errors(), self.reader.connect() as conn:
            found = {topic: int(n) for topic, n in conn.execute(query)}
        return {topic: found.get(topic, 0) for topic in sorted(topics)}

    def figures(self, campaign_id: int, *, recipients: bool = False) -> CampaignFigures:
        """Failed and uncertain recipients, opt-outs and webhook events of one campaign (one read)."""
        cid = campaign_id
        with store_errors(), self.reader.connect() as conn:
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
            rows = recipient_rows(conn, cid) if recipients else None
        return CampaignFigures(
            failed=failed, uncertain=uncertain, opt_outs=opt_outs, events=events, recipients=rows
        )

    # ---- a run ----------------------------------------------------------------------------

    def reset_for_run(
        self, campaign_id: int, *, resend_uncertain: bool = False, retry_failed: bool = False
    ) -> int:
        """Apply the restart rules and the flags (one transaction); returns how many are pending now."""
        now = utcnow()
        with store_errors(), Session(self.engine) as s, s.begin():
            # A batch still in flight belongs to a run that died: its outcome is unknown
            # (docs/design/send-ledger.md).
            reason = "the sending process stopped while this batch was in flight"
            move(s, campaign_id, LEDGER_IN_FLIGHT, LEDGER_UNCERTAIN, now, reason)
            if resend_uncertain:
                move(s, campaign_id, LEDGER_UNCERTAIN, LEDGER_PENDING, now)
            if retry_failed:
                move(s, campaign_id, LEDGER_FAILED, LEDGER_PENDING, now)
            pending = (LedgerEntry.campaign_id == campaign_id, LedgerEntry.state == LEDGER_PENDING)
            # Only rows that were tried: a new campaign's hundred thousand rows need no rewrite.
            s.execute(update(LedgerEntry).where(*pending, LedgerEntry.attempts != 0).values(attempts=0))
            return int(s.scalar(select(func.count()).where(*pending)) or 0)

    def settle_unknown(self, campaign_id: int, delivered: Callable[[list[str]], dict[str, str]]) -> int:
        """Settle the rows whose outcome is unknown (`in_flight` from a run that died, `uncertain`)
        from what a provider can tell by itself: `delivered(addresses)` names those it delivered, with
        their message ids; those become `sent`, the rest `pending`. One transaction; returns how many
        were settled. For the outbox, whose files say what was written (docs/sending.md)."""
        now = utcnow()
        unknown = (
            LedgerEntry.campaign_id == campaign_id,
            LedgerEntry.state.in_([LEDGER_IN_FLIGHT, LEDGER_UNCERTAIN]),
        )
        with store_errors(), Session(self.engine) as s, s.begin():
            rows = s.execute(
                select(LedgerEntry.id, LedgerEntry.email).where(*unknown).with_for_update()
            ).all()
            if not rows:
                return 0
            found = delivered([email for _, email in rows])
            # One bulk UPDATE by primary key (executemany) for all of them.
            s.execute(
                update(LedgerEntry),
                [
                    {
                        "id": eid,
                        "state": LEDGER_SENT,
                        "message_id": found[email],
                        "reason": None,
                        "updated_at": now,
                    }
                    if email in found
                    else {
                        "id": eid,
                        "state": LEDGER_PENDING,
                        "message_id": None,
                        "reason": None,
                        "updated_at": now,
                    }
                    for eid, email in rows
                ],
            )
            return len(rows)

    def writer(self, campaign_id: int, languages: Sequence[str] = ()) -> BatchWriter:
        """The claim/record side of one run of a campaign, shared by its worker threads; with
        `languages`, it claims only the recipients of those editions."""
        return BatchWriter(self.engine, self.reader, campaign_id, languages)

    def unsent(
        self, campaign_id: int | None, topics: Sequence[str] = ()
    ) -> Iterator[tuple[ClaimedEntry, bool]]:
        """Who a run would mail now, and whether each is suppressed — for a dry run (reads only).

        A new campaign (None): the active subscribers of the audience. An existing one: its pending
        recipients still active.
        """
        with store_errors(), self.reader.connect() as conn:
            suppressed = set(conn.scalars(select(Suppression.email_hash)))
            if campaign_id is None:
                who = audience(topics).where(Subscriber.status == ACTIVE).subquery()
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
                yield entry, bool(suppressed) and not suppressed.isdisjoint(lookup_hashes(email))

    def in_flight_for(self, subscriber_id: int, *, since: dt.datetime) -> bool:
        """Whether a copy to this subscriber was claimed (in_flight) since `since` and not yet settled.

        The unsubscribe page waits for it, so that no copy arrives after its answer
        (docs/serve.md). Rows claimed before `since` belong to a run that died; they wait for
        its resume. Looked up per campaign through the ledger's (campaign, state) index.
        """
        query = (
            select(LedgerEntry.id)
            .where(
                LedgerEntry.campaign_id.in_(select(Campaign.id)),
                LedgerEntry.state == LEDGER_IN_FLIGHT,
                LedgerEntry.subscriber_id == subscriber_id,
                LedgerEntry.updated_at >= since,
            )
            .limit(1)
        )
        with store_errors(), self.reader.connect() as conn:
            return conn.scalar(query) is not None

    def latest_sent_to(self, subscriber_id: int, *, since: dt.datetime) -> int | None:
        """The newest issue campaign created since `since` that was sent to this subscriber: the one
        their reply most likely answers (pain_news/inbound/handle.py). Per campaign through the
        ledger's (campaign, subscriber) unique index, like `in_flight_for`."""
        recent = select(Campaign.id).where(Campaign.kind == CAMPAIGN_ISSUE, Campaign.created_at >= since)
        query = select(func.max(LedgerEntry.campaign_id)).where(
            LedgerEntry.campaign_id.in_(recent),
            LedgerEntry.subscriber_id == subscriber_id,
            LedgerEntry.state == LEDGER_SENT,
        )
        with store_errors(), self.reader.connect() as conn:
            found = conn.scalar(query)
            return int(found) if found is not None else None

    def suppressed(self, addresses: Sequence[str]) -> set[str]:
        """Those of `addresses` on the suppression list (deleted, or opted out at the provider)."""
        hashes = {h: a for a in addresses for h in lookup_hashes(a)}
        with store_errors(), self.reader.connect() as conn:
            found = conn.scalars(select(Suppression.email_hash).where(Suppression.email_hash.in_(hashes)))
            return {hashes[h] for h in found}

    # ---- the canary and the circuit breaker (campaign/canary.py) ----------------------------

    def hold_for_canary(self, campaign_id: int, size: int) -> int:
        """Keep `size` pending recipients, chosen at random but the same for the same campaign (seeded
        by its id), and hold every other pending one until the canary is checked. One transaction;
        returns how many are held."""
        now = utcnow()
        with store_errors(), Session(self.engine) as s, s.begin():
            pending = (LedgerEntry.campaign_id == campaign_id, LedgerEntry.state == LEDGER_PENDING)
            ids = sorted(s.scalars(select(LedgerEntry.id).where(*pending)))
            if len(ids) <= size:
                return 0
            chosen = random.Random(f"pain-news-canary-{campaign_id}").sample(ids, size)
            move(s, campaign_id, LEDGER_PENDING, LEDGER_HELD, now, "waiting for the canary's outcome")
            for start in range(0, len(chosen), 1000):
                s.execute(
                    update(LedgerEntry)
                    .where(LedgerEntry.id.in_(chosen[start : start + 1000]))
                    .values(state=LEDGER_PENDING, reason=None)
                )
            return len(ids) - size

    def release(self, campaign_id: int) -> int:
        """Held and paused recipients become pending again (one transaction); returns how many."""
        now = utcnow()
        waiting = (LedgerEntry.campaign_id == campaign_id, LedgerEntry.state.in_(LEDGER_WAITING))
        with store_errors(), Session(self.engine) as s, s.begin():
            released = s.execute(
                update(LedgerEntry).where(*waiting).values(state=LEDGER_PENDING, reason=None, updated_at=now)
            )
            return int(getattr(released, "rowcount", 0) or 0)

    def pause(self, campaign_id: int, reason: str) -> None:
        """The circuit breaker: every pending recipient becomes `paused` (one transaction); batches
        already claimed finish and are recorded as usual."""
        with store_errors(), Session(self.engine) as s, s.begin():
            move(s, campaign_id, LEDGER_PENDING, LEDGER_PAUSED, utcnow(), reason)

    def last_issue_campaign_at(self) -> dt.datetime | None:
        """When the newest issue campaign was created; None when the list was never sent to."""
        query = select(func.max(Campaign.created_at)).where(Campaign.kind == CAMPAIGN_ISSUE)
        with store_errors(), self.reader.connect() as conn:
            return as_utc(conn.scalar(query))

    def imported_since(self, since: dt.datetime | None) -> int:
        """Subscribers added by `subscribers import` since `since` (all of them when None)."""
        query = select(func.count()).select_from(Subscriber).where(Subscriber.source.startswith("import:"))
        if since is not None:
            query = query.where(Subscriber.created_at > since)
        with store_errors(), self.reader.connect() as conn:
            return int(conn.scalar(query) or 0)

    # ---- scheduled sends and welcomes ------------------------------------------------------

    def mark_cancelled(self, campaign_id: int, now: dt.datetime) -> dict[str, int]:
        """Record a cancelled scheduled send (one transaction): cancelled_at, and every row SendGrid
        had accepted or might have (sent, uncertain, in flight) or that never went (pending) becomes
        `cancelled`; failed and skipped rows keep their reason. Returns the counts after."""
        with store_errors(), Session(self.engine) as s, s.begin():
            s.execute(update(Campaign).where(Campaign.id == campaign_id).values(cancelled_at=now))
            reason = "the scheduled send was cancelled before its time"
            for state in (LEDGER_SENT, LEDGER_UNCERTAIN, LEDGER_IN_FLIGHT, LEDGER_PENDING):
                move(s, campaign_id, state, LEDGER_CANCELLED, now, reason)
        return self.counts(campaign_id)

    def cancelled_batches(self, *, before: dt.datetime) -> list[str]:
        """SendGrid batch ids of cancelled scheduled sends whose time is before `before`."""
        query = select(Campaign.batch_id).where(
            Campaign.cancelled_at.is_not(None), Campaign.scheduled_at < before, Campaign.batch_id.is_not(None)
        )
        with store_errors(), self.reader.connect() as conn:
            return [str(b) for b in conn.scalars(query.order_by(Campaign.id))]

    def add_welcome_recipient(self, campaign_id: int, subscriber_id: int, now: dt.datetime) -> bool:
        """A pending row for `subscriber_id` in welcome campaign `campaign_id`, unless any welcome
        campaign already has one: True when added. The unique (campaign, subscriber) constraint and
        the serialised transaction make a repeated confirmation harmless."""
        with store_errors(), Session(self.engine) as s, s.begin():
            # One welcome decision per subscriber at a time: SQLite's BEGIN IMMEDIATE already
            # serialises; PostgreSQL takes an advisory lock keyed by the subscriber.
            if self.is_postgres:
                s.execute(
                    text(f"SELECT pg_advisory_xact_lock(:k, {_SCOPED})"),
                    {"k": _WELCOME_LOCK, "key": str(subscriber_id)},
                )
            welcomed = s.scalar(
                select(func.count())
                .select_from(LedgerEntry)
                .join(Campaign, Campaign.id == LedgerEntry.campaign_id)
                .where(Campaign.kind == CAMPAIGN_WELCOME, LedgerEntry.subscriber_id == subscriber_id)
            )
            person = s.get(Subscriber, subscriber_id)
            if welcomed or person is None:
                return False
            s.add(
                LedgerEntry(
                    campaign_id=campaign_id,
                    subscriber_id=subscriber_id,
                    position=subscriber_id,
                    email=person.email,
                    state=LEDGER_PENDING,
                    attempts=0,
                    updated_at=now,
                )
            )
            return True

    def pending_welcomes(self) -> list[int]:
        """Welcome campaigns that still have pending rows (a failed delivery left them), oldest first."""
        waiting = (
            select(LedgerEntry.id)
            .where(LedgerEntry.campaign_id == Campaign.id, LedgerEntry.state == LEDGER_PENDING)
            .exists()
        )
        with store_errors(), Session(self.reader) as s:
            found = s.scalars(
                select(Campaign.id).where(Campaign.kind == CAMPAIGN_WELCOME, waiting).order_by(Campaign.id)
            )
            return list(found)

    @contextmanager
    def advisory_lock(self, namespace: int, key: str) -> Iterator[bool]:
        """PostgreSQL: try a session advisory lock on its own connection, held until the block ends.

        Yields whether it was taken. The server releases it when the process dies, so a killed
        send never leaves a stale lock.
        """
        params = {"k": namespace, "key": key}
        with store_errors(), self.engine.connect() as conn:
            got = bool(conn.scalar(text(f"SELECT pg_try_advisory_lock(:k, {_SCOPED})"), params))
            conn.commit()
            try:
                yield got
            finally:
                if got:
                    conn.execute(text(f"SELECT pg_advisory_unlock(:k, {_SCOPED})"), params)
                    conn.commit()
