"""List sends: freeze the issue and its recipients in a campaign, deliver in batches, keep a per-recipient ledger.

The ledger makes a send exactly-once (docs/design/send-ledger.md): a batch is claimed and written
`in_flight` in one transaction before the provider is called, and its outcome is written in
one transaction after. A restart finds leftover `in_flight` rows and marks them `uncertain`;
those are never resent on our own. Whether a campaign is finished is derived from the ledger.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import DateTime, Integer, String, case, func, insert, literal, null, select, text, update
from sqlalchemy.orm import Session

from pain_news import delivery
from pain_news.delivery.base import (
    FAILED,
    RETRY,
    SENT,
    UNCERTAIN,
    DeliveryResult,
    OutgoingMessage,
    PartialDelivery,
    Provider,
    Recipient,
)
from pain_news.delivery.retry import BACKOFF_BASE, MAX_ATTEMPTS, backoff_delay
from pain_news.errors import DeliveryError, PainNewsError
from pain_news.models import (
    ACTIVE,
    LEDGER_FAILED,
    LEDGER_IN_FLIGHT,
    LEDGER_PENDING,
    LEDGER_SENT,
    LEDGER_SKIPPED,
    LEDGER_UNCERTAIN,
    Campaign,
    LedgerEntry,
    Subscriber,
    Suppression,
    utcnow,
)
from pain_news.personalize import Personalizer
from pain_news.store import email_hash

if TYPE_CHECKING:
    from pain_news.build import BuildResult
    from pain_news.config import Config
    from pain_news.store import SubscriberStore

# Advisory-lock namespaces (PostgreSQL): campaign creation per issue, and a campaign's run.
_CREATE_LOCK = 0x504E01
_RUN_LOCK = 0x504E02
API_THREADS = 3  # SendGrid batches in parallel: overlaps one request's wait with the next batch's work
Progress = Callable[[int], None]  # called with the number of recipients just settled


@dataclass(frozen=True)
class SendOptions:
    """How to run a list send (command-line flags); tuning knobs exist for tests and the bench."""

    provider: str | None = None
    dry_run: bool = False
    resend_uncertain: bool = False
    retry_failed: bool = False
    new_campaign: bool = False
    rate: float | None = None  # messages per second; None: delivery.rate from config (0 = no limit)
    threads: int | None = None
    batch_size: int | None = None
    backoff_base: float = BACKOFF_BASE
    max_attempts: int = MAX_ATTEMPTS


@dataclass(frozen=True)
class SendPlan:
    """What a list send is about to do, shown before asking for confirmation."""

    issue: str
    subject: str
    provider: str
    sender: str
    to_send: int
    opted_out: int
    not_confirmed: int
    campaign_id: int | None  # None: a new campaign will be created
    ledger: dict[str, int] = field(default_factory=dict)  # existing campaign's states
    notes: tuple[str, ...] = ()

    def lines(self) -> list[str]:
        """Human-readable description of the send."""
        what = f"resume campaign {self.campaign_id}" if self.campaign_id else "new campaign"
        out = [
            f"Issue:      {self.issue} ({what})",
            f"Subject:    {self.subject}",
            f"From:       {self.sender}",
            f"Provider:   {self.provider}",
            f"Recipients: {self.to_send} to send now"
            + (f"; already settled: {_states(self.ledger)}" if self.ledger else ""),
            f"Not mailed: {self.opted_out} opted out (unsubscribed, bounced, complained), {self.not_confirmed} not confirmed",
        ]
        return out + list(self.notes)


@dataclass(frozen=True)
class SendReport:
    """The outcome of one `send` run, and the campaign's ledger after it."""

    campaign_id: int | None
    run: dict[str, int]  # outcomes of this run: sent, failed, uncertain, skipped
    ledger: dict[str, int]
    elapsed: float
    dry_run: bool = False
    interrupted: bool = False

    @property
    def finished(self) -> bool:
        return not (self.ledger.get(LEDGER_PENDING) or self.ledger.get(LEDGER_IN_FLIGHT))

    def lines(self) -> list[str]:
        """The summary printed at the end."""
        if self.dry_run:
            suppressed = self.run.get(LEDGER_SKIPPED, 0)
            return [
                f"dry run: {self.run.get('checked', 0)} messages personalised"
                + (f", {suppressed} suppressed addresses would be skipped" if suppressed else "")
                + "; 0 emails left this machine"
            ]
        rate = self.run.get(SENT, 0) / self.elapsed if self.elapsed > 0 else 0.0
        out = [
            f"Campaign {self.campaign_id}: this run sent {self.run.get(SENT, 0)}, failed {self.run.get(FAILED, 0)}, "
            f"uncertain {self.run.get(UNCERTAIN, 0)}, skipped {self.run.get(LEDGER_SKIPPED, 0)} "
            f"in {self.elapsed:.1f} s ({rate:.0f}/s)",
            f"Ledger: {_states(self.ledger)} — {'finished' if self.finished else 'not finished (run send again to resume)'}",
        ]
        if self.ledger.get(LEDGER_UNCERTAIN):
            out.append(
                f"{self.ledger[LEDGER_UNCERTAIN]} uncertain: may or may not have been delivered; "
                f"'pain-news report --campaign {self.campaign_id} --recipients' names them, --resend-uncertain resends them"
            )
        if self.ledger.get(LEDGER_FAILED):
            out.append(
                f"{self.ledger[LEDGER_FAILED]} failed: see 'pain-news report --campaign {self.campaign_id}'; --retry-failed retries them"
            )
        return out


def _states(counts: dict[str, int]) -> str:
    return ", ".join(f"{state} {n}" for state, n in counts.items() if n) or "empty"


@dataclass
class PreparedSend:
    """Everything decided before confirmation: the frozen content, the campaign (if any) and the plan."""

    plan: SendPlan
    message: OutgoingMessage
    issue: str
    provider: str
    campaign_id: int | None
    options: SendOptions
    seen_campaign_id: int | None = None  # the issue's newest campaign when prepared (None: none yet)


# ---- preparing --------------------------------------------------------------------------------


def latest_campaign(store: SubscriberStore, issue: str) -> Campaign | None:
    """The newest campaign of an issue (by folder name)."""
    with Session(store.engine, expire_on_commit=False) as s:
        return s.scalar(select(Campaign).where(Campaign.issue == issue).order_by(Campaign.id.desc()).limit(1))


def ledger_counts(store: SubscriberStore, campaign_id: int) -> dict[str, int]:
    """Number of recipients in each ledger state (every state present, in ledger order)."""
    from pain_news.models import LEDGER_STATES

    with store.reader.connect() as conn:
        rows = conn.execute(
            select(LedgerEntry.state, func.count())
            .where(LedgerEntry.campaign_id == campaign_id)
            .group_by(LedgerEntry.state)
        )
        found = {state: int(n) for state, n in rows}
    return {state: found.get(state, 0) for state in LEDGER_STATES}


def _subscriber_counts(store: SubscriberStore) -> Counter[str]:
    with store.reader.connect() as conn:
        return Counter(
            {
                status: int(n)
                for status, n in conn.execute(
                    select(Subscriber.status, func.count()).group_by(Subscriber.status)
                )
            }
        )


def prepare_send(
    config: Config, store: SubscriberStore, issue_dir: Path, options: SendOptions
) -> PreparedSend:
    """Build and check the issue, pick the campaign to create or resume, and describe the send."""
    from pain_news.unsubscribe import unsubscribe_url

    unsubscribe_url(config, 0, None)  # no secret key or public_url: refuse before any plan or campaign
    provider = options.provider or config.delivery.provider
    result = _checked_build(config, issue_dir)
    if provider == "sendgrid":
        from pain_news.sync import sync_suppressions

        sync_suppressions(config, store)  # SendGrid's suppressions become opt-outs here first
    issue = result.issue.slug
    existing = latest_campaign(store, issue)
    counts = _subscriber_counts(store)
    opted_out = sum(counts[s] for s in ("unsubscribed", "bounced", "complained"))
    notes: list[str] = []
    if existing is None or _chooses_new(store, existing, options):
        message = delivery.message_from_config(
            config,
            result.issue.subject,
            result.rendered.email_html,
            result.rendered.email_text,
            list_message=True,
        )
        plan = SendPlan(
            issue,
            message.subject,
            provider,
            _sender(message),
            counts[ACTIVE],
            opted_out,
            counts["pending"],
            None,
        )
        return PreparedSend(plan, message, issue, provider, None, options, existing.id if existing else None)
    with run_lock(store, existing.id):  # refuse before the confirmation, not only when the run starts
        ledger = ledger_counts(store, existing.id)
    to_send = ledger[LEDGER_PENDING]
    if options.resend_uncertain:  # rows left in flight become uncertain first, then pending again
        to_send += ledger[LEDGER_UNCERTAIN] + ledger[LEDGER_IN_FLIGHT]
    if options.retry_failed:
        to_send += ledger[LEDGER_FAILED]
    if ledger[LEDGER_IN_FLIGHT]:
        notes.append(
            f"{ledger[LEDGER_IN_FLIGHT]} were in flight when the last run stopped: they become uncertain"
        )
    if existing.provider != provider:
        notes.append(
            f"note: campaign {existing.id} started with {existing.provider}; continuing with {provider}"
        )
    message = delivery.message_from_config(
        config, existing.subject, existing.html, existing.text, list_message=True
    )
    notes.append(f"the frozen copy from {existing.created_at:%Y-%m-%d %H:%M} UTC is sent, not a new build")
    plan = SendPlan(
        issue,
        existing.subject,
        provider,
        _sender(message),
        to_send,
        opted_out,
        counts["pending"],
        existing.id,
        ledger,
        tuple(notes),
    )
    return PreparedSend(plan, message, issue, provider, existing.id, options, existing.id)


def _checked_build(config: Config, issue_dir: Path) -> BuildResult:
    """build with check errors refused; `send` has no --force, so the hint says how to fix instead."""
    from pain_news.check import checked_build
    from pain_news.errors import CheckFailed

    try:
        return checked_build(config, issue_dir)[0]
    except CheckFailed as error:
        error.hint = f"run pain-news check {issue_dir} and fix the errors, then send again"
        raise


def _chooses_new(store: SubscriberStore, existing: Campaign, options: SendOptions) -> bool:
    """Whether this run starts a new campaign; refuses to silently resend a finished one."""
    ledger = ledger_counts(store, existing.id)
    finished = not (ledger[LEDGER_PENDING] or ledger[LEDGER_IN_FLIGHT])
    if options.new_campaign:
        if not finished:
            raise DeliveryError(
                f"campaign {existing.id} of {existing.issue} is not finished ({_states(ledger)})",
                hint="run send without --new-campaign to resume it first",
            )
        return True
    if (
        finished
        and not (options.retry_failed and ledger[LEDGER_FAILED])
        and not (options.resend_uncertain and ledger[LEDGER_UNCERTAIN])
    ):
        raise DeliveryError(
            f"campaign {existing.id} of {existing.issue} is finished ({_states(ledger)}); nothing to send",
            hint="--retry-failed or --resend-uncertain send to those recipients; --new-campaign sends the issue to everyone again",
        )
    return False


def _sender(message: OutgoingMessage) -> str:
    return f"{message.from_name} <{message.from_email}>" if message.from_name else message.from_email


# ---- sending ----------------------------------------------------------------------------------


def run_send(
    config: Config,
    store: SubscriberStore,
    prepared: PreparedSend,
    *,
    progress: Progress | None = None,
    on_total: Callable[[int], None] | None = None,
    stop: threading.Event | None = None,
    provider_factory: Callable[[], Provider] | None = None,
) -> SendReport:
    """Run (or resume) the list send described by `prepared`; Ctrl-C stops after the batch in flight."""
    options = prepared.options
    started = time.monotonic()
    if options.dry_run:
        checked = _dry_run(config, store, prepared)
        return SendReport(prepared.campaign_id, checked, {}, time.monotonic() - started, dry_run=True)
    factory = provider_factory or (lambda: delivery.get_provider(config, prepared.provider))
    first = factory()
    try:
        campaign_id = prepared.campaign_id
        if campaign_id is None:
            campaign_id = create_campaign(store, prepared)
        with run_lock(store, campaign_id):
            return _run_locked(config, store, prepared, campaign_id, first, factory, progress, on_total, stop)
    finally:
        first.close()


def _run_locked(
    config: Config,
    store: SubscriberStore,
    prepared: PreparedSend,
    campaign_id: int,
    first: Provider,
    factory: Callable[[], Provider],
    progress: Progress | None,
    on_total: Callable[[int], None] | None,
    stop: threading.Event | None,
) -> SendReport:
    """The run proper, while this process holds the campaign's run lock."""
    options = prepared.options
    started = time.monotonic()
    message = replace(
        prepared.message,
        label=f"campaign-{campaign_id}",
        campaign_id=campaign_id,
        category=f"pain-news-{prepared.issue}-{campaign_id}",
    )
    total = reset_for_run(store, campaign_id, options)
    if on_total is not None:
        on_total(total)
    rate = config.delivery.rate if options.rate is None else options.rate
    batch_size = options.batch_size or first.max_batch
    if rate > 0:
        batch_size = max(1, min(batch_size, int(rate)))  # keep pacing smooth: at most one second per batch
    threads = options.threads or (API_THREADS if first.name == "sendgrid" else 1)
    sender = _Sender(
        config, store, campaign_id, message, options, batch_size, rate, stop or threading.Event(), progress
    )
    providers = [first] + [factory() for _ in range(threads - 1)]
    # Each worker signals its own end: after a Ctrl-C inside Thread.join, CPython can report a
    # thread as finished while it still runs, and we must wait for the batch it has in flight.
    finished = [threading.Event() for _ in providers]

    def work(provider: Provider, done: threading.Event) -> None:
        try:
            sender.work(provider)
        finally:
            done.set()

    workers = [
        threading.Thread(target=work, args=(p, done), name=f"send-{i}", daemon=True)
        for i, (p, done) in enumerate(zip(providers, finished, strict=True))
    ]
    interrupted = False
    try:
        for w in workers:
            w.start()
        for done in finished:
            while not done.wait(0.2):
                pass
    except KeyboardInterrupt:
        interrupted = True
        sender.stop.set()  # each worker finishes the batch it has in flight, then stops
        for done in finished:
            done.wait()
    finally:
        for p in providers[1:]:
            p.close()
    if sender.error is not None:
        raise sender.error
    interrupted = interrupted or (stop is not None and stop.is_set())
    return SendReport(
        campaign_id,
        dict(sender.outcomes),
        ledger_counts(store, campaign_id),
        time.monotonic() - started,
        interrupted=interrupted,
    )


def create_campaign(store: SubscriberStore, prepared: PreparedSend) -> int:
    """The campaign row, its frozen copy, and one ledger row per subscriber — in one transaction.

    Active subscribers start `pending`; everyone else is recorded `skipped` with the reason, so
    `report --recipients` can answer "did this patient get it?" for anyone on the list. Refuses
    when another `send` of the issue created a campaign since this one was prepared (two
    terminals at the prompt would otherwise each mail everyone).
    """
    now = utcnow()
    m = prepared.message
    with store.session() as s:
        # Serialise campaign creation per issue: SQLite's BEGIN IMMEDIATE already does; PostgreSQL
        # takes a transaction-level advisory lock keyed by the issue.
        if s.get_bind().dialect.name == "postgresql":
            s.execute(
                text("SELECT pg_advisory_xact_lock(:k, hashtext(:issue))"),
                {"k": _CREATE_LOCK, "issue": prepared.issue},
            )
        newest = s.scalar(select(func.max(Campaign.id)).where(Campaign.issue == prepared.issue))
        if newest != prepared.seen_campaign_id:
            raise DeliveryError(
                f"another send of {prepared.issue} started campaign {newest} meanwhile; nothing was sent by this one",
                hint="run send again: it resumes that campaign ('pain-news campaigns' lists them)",
            )
        campaign = Campaign(
            issue=prepared.issue,
            subject=m.subject,
            provider=prepared.provider,
            html=m.html,
            text=m.text,
            created_at=now,
        )
        s.add(campaign)
        s.flush()
        active = Subscriber.status == ACTIVE
        rows = select(
            literal(campaign.id, Integer),
            Subscriber.id,
            Subscriber.id,
            Subscriber.email,
            case((active, literal(LEDGER_PENDING, String)), else_=literal(LEDGER_SKIPPED, String)),
            case((active, null()), else_=Subscriber.status + literal(" at the start of the send", String)),
            literal(0, Integer),
            literal(now, DateTime(timezone=True)),
        ).order_by(Subscriber.id)
        s.execute(
            insert(LedgerEntry).from_select(
                [
                    "campaign_id",
                    "subscriber_id",
                    "position",
                    "email",
                    "state",
                    "reason",
                    "attempts",
                    "updated_at",
                ],
                rows,
            )
        )
        return int(campaign.id)


@contextmanager
def run_lock(store: SubscriberStore, campaign_id: int) -> Iterator[None]:
    """Held for a whole run, so a second `send` cannot turn this run's live in_flight rows uncertain.

    PostgreSQL: a session advisory lock on a dedicated connection. SQLite: flock on a file in
    `<database>.locks/` next to the database. Both are released by the OS when the process dies,
    so a killed send never leaves a stale lock.
    """
    busy = DeliveryError(
        f"campaign {campaign_id} is being sent by another process",
        hint="wait for that send to finish (or stop it), then run send again to resume",
    )
    if store.engine.dialect.name == "postgresql":
        key = {"k": _RUN_LOCK, "c": campaign_id}
        with store.engine.connect() as conn:
            got = conn.scalar(text("SELECT pg_try_advisory_lock(:k, :c)"), key)
            conn.commit()
            if not got:
                raise busy
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k, :c)"), key)
                conn.commit()
        return
    database = store.engine.url.database
    if not database or database == ":memory:":
        yield  # only this process can see an in-memory database
        return
    folder = Path(database).with_name(Path(database).name + ".locks")
    folder.mkdir(exist_ok=True)
    with open(folder / f"campaign-{campaign_id}.lock", "ab") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise busy from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def reset_for_run(store: SubscriberStore, campaign_id: int, options: SendOptions) -> int:
    """Apply the restart rules and the flags; returns how many recipients this run will try."""
    now = utcnow()
    with store.session() as s:
        # A batch still in flight belongs to a run that died: its outcome is unknown
        # (docs/design/send-ledger.md).
        _move(
            s,
            campaign_id,
            LEDGER_IN_FLIGHT,
            LEDGER_UNCERTAIN,
            now,
            "the sending process stopped while this batch was in flight",
        )
        if options.resend_uncertain:
            _move(s, campaign_id, LEDGER_UNCERTAIN, LEDGER_PENDING, now)
        if options.retry_failed:
            _move(s, campaign_id, LEDGER_FAILED, LEDGER_PENDING, now)
        s.execute(
            update(LedgerEntry)
            .where(LedgerEntry.campaign_id == campaign_id, LedgerEntry.state == LEDGER_PENDING)
            .values(attempts=0)
        )
        return int(
            s.scalar(
                select(func.count()).where(
                    LedgerEntry.campaign_id == campaign_id, LedgerEntry.state == LEDGER_PENDING
                )
            )
            or 0
        )


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


@dataclass(frozen=True)
class _Claimed:
    ids: list[int]
    recipients: list[Recipient]
    attempts: int


class _Sender:
    """The shared state of one run's worker threads: claiming, pacing, pausing, recording."""

    def __init__(
        self,
        config: Config,
        store: SubscriberStore,
        campaign_id: int,
        message: OutgoingMessage,
        options: SendOptions,
        batch_size: int,
        rate: float,
        stop: threading.Event,
        progress: Progress | None,
    ) -> None:
        self.config = config
        self.store = store
        self.campaign_id = campaign_id
        self.message = message
        self.options = options
        self.batch_size = batch_size
        self.rate = rate
        self.stop = stop
        self.progress = progress
        self.outcomes: Counter[str] = Counter()
        self.error: BaseException | None = None
        self._lock = threading.Lock()  # pacing, pauses and counts
        # One ledger writer at a time within this process: SQLite would otherwise make the other
        # threads busy-wait (sleeping up to 100 ms a try) for its write lock.
        self._write_lock = threading.Lock()
        self._next_slot = time.monotonic()  # --rate: when the next batch may start
        self._pause_until = 0.0  # after a 429 or 5xx every worker waits
        self._is_postgres = store.engine.dialect.name == "postgresql"
        self._personalizer = Personalizer(config)
        with store.reader.connect() as conn:
            last = conn.scalar(
                select(func.max(LedgerEntry.batch)).where(LedgerEntry.campaign_id == campaign_id)
            )
        self._batch = int(last or 0)

    def work(self, provider: Provider) -> None:
        try:
            while not self.stop.is_set():
                if not self._wait_turn():
                    return
                claimed = self.claim()
                if claimed is None:
                    return
                self._deliver(provider, claimed)
        except BaseException as error:  # reported by run_send in the main thread
            with self._lock:
                self.error = self.error or error
            self.stop.set()

    def _wait_turn(self) -> bool:
        """Wait for --rate pacing and any shared pause; False when asked to stop meanwhile."""
        with self._lock:
            start = max(self._next_slot, self._pause_until, time.monotonic())
            if self.rate > 0:
                self._next_slot = start + self.batch_size / self.rate
        return not self.stop.wait(max(0.0, start - time.monotonic()))

    def claim(self) -> _Claimed | None:
        """Take the next pending batch: re-read statuses, skip opt-outs, mark the rest in_flight (one transaction)."""
        now = utcnow()
        with self._write_lock, self.store.engine.begin() as s:  # Core: no ORM bookkeeping per batch
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
                .limit(self.batch_size)
            )
            if self._is_postgres:
                query = query.with_for_update(of=LedgerEntry, skip_locked=True)
            rows = s.execute(query).all()
            if not rows:
                return None
            hashes = [email_hash(r.email) for r in rows]
            suppressed = set(
                s.scalars(select(Suppression.email_hash).where(Suppression.email_hash.in_(hashes)))
            )
            skipped: dict[str, list[int]] = {}
            ids, chosen, attempts = [], [], 0
            for r, hashed in zip(rows, hashes, strict=True):
                if r.status != ACTIVE or hashed in suppressed:
                    why = (
                        f"{r.status or 'deleted'} before its batch"
                        if r.status != ACTIVE
                        else "suppressed before its batch"
                    )
                    skipped.setdefault(why, []).append(r.id)
                    continue
                ids.append(r.id)
                chosen.append(r)
                attempts = max(attempts, r.attempts + 1)
            for why, skip_ids in skipped.items():
                s.execute(
                    update(LedgerEntry)
                    .where(LedgerEntry.id.in_(skip_ids))
                    .values(state=LEDGER_SKIPPED, reason=why, updated_at=now)
                )
            if ids:
                self._batch += 1
                s.execute(
                    update(LedgerEntry)
                    .where(LedgerEntry.id.in_(ids))
                    .values(
                        state=LEDGER_IN_FLIGHT,
                        batch=self._batch,
                        attempts=LedgerEntry.attempts + 1,
                        updated_at=now,
                    )
                )
        n_skipped = sum(len(v) for v in skipped.values())
        if n_skipped:
            self._count({LEDGER_SKIPPED: n_skipped}, n_skipped)
        # Personalising (signing links) happens after the transaction, so it holds no lock.
        recipients = [
            self._personalizer.recipient(
                self.campaign_id, r.subscriber_id, r.email, r.first_name, r.last_name
            )
            for r in chosen
        ]
        return _Claimed(ids, recipients, attempts)

    def _deliver(self, provider: Provider, claimed: _Claimed) -> None:
        if not claimed.ids:
            return
        try:
            results = provider.deliver(self.message, claimed.recipients)
        except PainNewsError as error:
            # The send must stop (400, 401, 403, a refused login or sender): nothing more was
            # accepted than the results the provider carries (SMTP handles recipients one by one).
            done = error.partial if isinstance(error, PartialDelivery) else []
            self.record(claimed.ids, [*done, *[DeliveryResult(RETRY)] * (len(claimed.ids) - len(done))])
            raise
        except BaseException:
            self.record(
                claimed.ids,
                [DeliveryResult(UNCERTAIN, reason="the send failed unexpectedly during this batch")]
                * len(claimed.ids),
            )
            raise
        retries = [r for r in results if r.status == RETRY]
        if retries and claimed.attempts < self.options.max_attempts:
            # Pause first: once the rows are pending again another worker may claim them at once.
            waits = [r.retry_after for r in retries if r.retry_after is not None]
            delay = backoff_delay(claimed.attempts, self.options.backoff_base, max(waits) if waits else None)
            with self._lock:
                self._pause_until = max(self._pause_until, time.monotonic() + delay)
        self.record(claimed.ids, results)
        if retries and claimed.attempts >= self.options.max_attempts:
            raise DeliveryError(
                f"gave up after {claimed.attempts} attempts: {retries[0].reason or 'temporary failure'}",
                hint="the campaign is resumable: run the same send command again later",
            )

    def record(self, ids: Sequence[int], results: Sequence[DeliveryResult]) -> None:
        """Write the outcome of one batch in one transaction (grouped: one UPDATE per distinct outcome)."""
        now = utcnow()
        groups: dict[tuple[str, str | None, str | None], list[int]] = {}
        for entry_id, result in zip(ids, results, strict=True):
            state = {SENT: LEDGER_SENT, FAILED: LEDGER_FAILED, UNCERTAIN: LEDGER_UNCERTAIN}.get(
                result.status, LEDGER_PENDING
            )
            groups.setdefault((state, result.message_id, result.reason), []).append(entry_id)
        with self._write_lock, self.store.engine.begin() as s:  # Core: no ORM bookkeeping per batch
            for (state, message_id, reason), group in groups.items():
                s.execute(
                    update(LedgerEntry)
                    .where(LedgerEntry.id.in_(group))
                    .values(state=state, message_id=message_id, reason=reason, updated_at=now)
                )
        settled: Counter[str] = Counter()
        for (state, _, _), group in groups.items():
            if state != LEDGER_PENDING:
                settled[state] += len(group)
        self._count(settled, sum(settled.values()))

    def _count(self, outcomes: dict[str, int], settled: int) -> None:
        with self._lock:
            self.outcomes.update(outcomes)
        if self.progress is not None and settled:
            self.progress(settled)


def _dry_run(config: Config, store: SubscriberStore, prepared: PreparedSend) -> dict[str, int]:
    """Personalise every message that would go out, deliver none, write nothing.

    Skips suppressed addresses as a real send's claim does, and counts them.
    """
    campaign_id = prepared.campaign_id or 0
    counts = {"checked": 0, LEDGER_SKIPPED: 0}
    with store.reader.connect() as conn:
        suppressed = set(conn.scalars(select(Suppression.email_hash)))
        if prepared.campaign_id is None:
            query = select(
                Subscriber.id, Subscriber.email, Subscriber.first_name, Subscriber.last_name
            ).where(Subscriber.status == ACTIVE)
        else:
            query = (
                select(
                    LedgerEntry.subscriber_id, LedgerEntry.email, Subscriber.first_name, Subscriber.last_name
                )
                .join(Subscriber, Subscriber.id == LedgerEntry.subscriber_id)
                .where(
                    LedgerEntry.campaign_id == campaign_id,
                    LedgerEntry.state == LEDGER_PENDING,
                    Subscriber.status == ACTIVE,
                )
            )
        personalizer = Personalizer(config)
        for sid, email, first, last in conn.execute(query):
            if suppressed and email_hash(email) in suppressed:
                counts[LEDGER_SKIPPED] += 1
                continue
            personalizer.recipient(campaign_id, sid, email, first, last)
            counts["checked"] += 1
    return counts


@dataclass(frozen=True)
class SentTest:
    """Who a test send went to, who was skipped as opted out (address, why), and whether it was a dry run."""

    sent: list[str]
    skipped: list[tuple[str, str]]
    dry_run: bool = False


def send_test(
    config: Config,
    store: SubscriberStore,
    issue_dir: Path,
    to: Sequence[str],
    provider: str | None = None,
    *,
    dry_run: bool = False,
) -> SentTest:
    """Build and check the issue, then send it with "[TEST] " to `to` (or delivery.test_recipients).

    The [sample] subscriber's values fill the placeholders; nothing is recorded against a campaign.
    Opt-outs are sacred here too: an address that unsubscribed, bounced, complained or is
    suppressed in the store is skipped. With `dry_run` every message is built and none delivered.
    """
    from pain_news.config import CONFIG_NAME
    from pain_news.delivery.retry import deliver_now
    from pain_news.errors import ConfigError
    from pain_news.personalize import sample_recipient
    from pain_news.store import check_email

    addresses = [check_email(a) for a in (to or config.delivery.test_recipients)]
    if not addresses:
        raise ConfigError(
            "no test recipients",
            path=config.path or config.root / CONFIG_NAME,
            hint="pass --to ADDRESS or set test_recipients under [delivery]",
        )
    skipped = [(a, why) for a in addresses if (why := _opted_out(store, a))]
    addresses = [a for a in addresses if a not in {a for a, _ in skipped}]
    if not addresses:
        raise DeliveryError(
            "no test recipient left: " + "; ".join(f"{a} is {why}" for a, why in skipped),
            hint="opted-out addresses are never mailed; pass another --to ADDRESS",
        )
    result = _checked_build(config, issue_dir)
    message = delivery.message_from_config(
        config,
        f"[TEST] {result.issue.subject}",
        result.rendered.email_html,
        result.rendered.email_text,
        label="test",
        list_message=True,
    )
    recipients = [sample_recipient(config, a) for a in addresses]
    if dry_run:
        return SentTest(addresses, skipped, dry_run=True)
    chosen = delivery.get_provider(config, provider)
    try:
        deliver_now(chosen, message, recipients)
    finally:
        chosen.close()
    return SentTest(addresses, skipped)


def _opted_out(store: SubscriberStore, address: str) -> str | None:
    """Why an address must not be mailed (its opted-out status, or "suppressed"), else None."""
    from pain_news.models import OPTED_OUT

    found = store.get(address)
    if found is not None and found.status in OPTED_OUT:
        return found.status
    with Session(store.reader) as s:
        return "suppressed" if store.is_suppressed(s, address) else None
