"""Running a list send: worker threads claim batches, deliver them, and record the outcomes.

The ledger makes it exactly-once (docs/design/send-ledger.md): a batch is written `in_flight` before
the provider is called and its outcome after. `--rate` paces batches, and a 429 or 5xx pauses
every worker for the backoff; Ctrl-C stops after the batches in flight.
"""

from __future__ import annotations

import datetime as dt
import gc
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from pain_news import delivery
from pain_news.campaign import canary, personalizing, schedule
from pain_news.campaign.locks import run_lock
from pain_news.campaign.options import SendOptions
from pain_news.campaign.personalize import Personalizer
from pain_news.campaign.personalize_worker import Encoder
from pain_news.campaign.plan import PreparedSend
from pain_news.campaign.summary import SendReport
from pain_news.config.clock import clinic_zone
from pain_news.config.topics import sensitive_among
from pain_news.delivery.base import (
    FAILED,
    RETRY,
    SENT,
    UNCERTAIN,
    DeliveryResult,
    EncodedBatch,
    EncodingProvider,
    OutgoingMessage,
    PartialDelivery,
    Provider,
    Recipient,
    SelfSettlingProvider,
    ascii_category,
)
from pain_news.delivery.retry import backoff_delay
from pain_news.errors import DeliveryError, PainNewsError
from pain_news.ledger import BatchWriter, CampaignHealth, CampaignLedger, Claim, NewCampaign, Outcome
from pain_news.vocab import (
    CAMPAIGN_ISSUE,
    LEDGER_FAILED,
    LEDGER_HELD,
    LEDGER_IN_FLIGHT,
    LEDGER_PAUSED,
    LEDGER_PENDING,
    LEDGER_SENT,
    LEDGER_SKIPPED,
    LEDGER_UNCERTAIN,
)

if TYPE_CHECKING:
    from pain_news.config.settings import Config
    from pain_news.subscribers.store import SubscriberStore

API_THREADS = 3  # SendGrid batches in parallel: overlaps one request's wait with the next batch's work
Progress = Callable[[int], None]  # called with the number of recipients just settled
_LEDGER_STATE = {SENT: LEDGER_SENT, FAILED: LEDGER_FAILED, UNCERTAIN: LEDGER_UNCERTAIN}  # RETRY: pending


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
    ledger = CampaignLedger.for_store(store)
    started = time.monotonic()
    if prepared.options.dry_run:
        checked = _dry_run(config, ledger, prepared)
        return SendReport(
            campaign_id=prepared.campaign_id,
            run=checked,
            ledger={},
            elapsed=time.monotonic() - started,
            dry_run=True,
        )
    factory = provider_factory or (lambda: delivery.get_provider(config, prepared.provider))
    first = factory()
    # Started first: worker processes load while the campaign and its ledger rows are written.
    pool = personalizing.pool_for(config, first, prepared.plan.to_send, prepared.options.processes)
    # Everything alive now (modules, settings, the built issue) outlives the send, while the send
    # makes and drops several objects per recipient; frozen, the collector stops walking the
    # former each time it sweeps the latter (docs/design/large-sends.md).
    gc.freeze()
    try:
        campaign_id = prepared.campaign_id
        if campaign_id is None:
            if prepared.schedule is not None:  # the batch id exists before the campaign that uses it
                when = schedule.with_batch(
                    prepared.schedule, first, dt.datetime.now(dt.UTC), clinic_zone(config)
                )
                prepared = replace(prepared, schedule=when)
            campaign_id = create_campaign(ledger, prepared)
        created = prepared.campaign_id is None
        with run_lock(ledger, campaign_id):
            editions = _edition_runs(config, prepared, campaign_id)
            run = _Run(
                config=config,
                writer=ledger.writer(campaign_id, editions[0][0]),
                message=editions[0][1],
                options=prepared.options,
                stop=stop or threading.Event(),
                progress=progress,
                pool=pool,
                breaker=_breaker(config, ledger, prepared, campaign_id),
            )
            if isinstance(first, SelfSettlingProvider):  # the outbox knows what it wrote: nothing uncertain
                ledger.settle_unknown(campaign_id, lambda found: first.delivered(run.message, found))
            total = _ready_for_run(ledger, prepared, campaign_id, created)
            if on_total is not None:
                on_total(total)
            interrupted = _run_editions(run, ledger, campaign_id, editions, first, factory)
            counts = ledger.counts(campaign_id)
            if run.breaker is not None and run.breaker.tripped is not None:
                raise run.breaker.stopped(counts[LEDGER_PAUSED])
            return SendReport(
                campaign_id=campaign_id,
                run=dict(run.outcomes),
                ledger=counts,
                elapsed=time.monotonic() - started,
                interrupted=interrupted or (stop is not None and stop.is_set()),
                notes=_canary_notes(config, ledger, prepared, campaign_id, counts),
            )
    finally:
        gc.unfreeze()
        if pool is not None:
            pool.close()
        first.close()


def _ready_for_run(ledger: CampaignLedger, prepared: PreparedSend, campaign_id: int, created: bool) -> int:
    """Hold all but a new campaign's canary, release what waited for a check, apply the restart
    rules; returns how many are pending for this run."""
    if created and prepared.canary_size:
        ledger.hold_for_canary(campaign_id, prepared.canary_size)
    if prepared.release:
        ledger.release(campaign_id)
    return ledger.reset_for_run(
        campaign_id,
        resend_uncertain=prepared.options.resend_uncertain,
        retry_failed=prepared.options.retry_failed,
    )


def _breaker(
    config: Config, ledger: CampaignLedger, prepared: PreparedSend, campaign_id: int
) -> canary.Breaker | None:
    """The run's circuit breaker: issue sends through SMTP or SendGrid made now, unless --ignore-canary.

    Never for the welcome email: it is one message per new subscriber, not a bulk send."""
    options = prepared.options
    if prepared.provider not in canary.LISTENING_PROVIDERS or options.ignore_canary or prepared.schedule:
        return None
    record = ledger.get(campaign_id)
    if record is None or record.kind != CAMPAIGN_ISSUE:
        return None
    return canary.Breaker(config, ledger, campaign_id, options.breaker_every, prepared.provider)


def _canary_notes(
    config: Config, ledger: CampaignLedger, prepared: PreparedSend, campaign_id: int, counts: dict[str, int]
) -> tuple[str, ...]:
    """When only the canary's held recipients are left: when to run again and what is checked."""
    if not counts[LEDGER_HELD] or counts[LEDGER_PENDING] or counts[LEDGER_IN_FLIGHT]:
        return ()
    outcomes = CampaignHealth(ledger.reader).outcomes(campaign_id)
    now = dt.datetime.now(dt.UTC)
    return tuple(canary.waiting_lines(config, prepared.provider, counts[LEDGER_HELD], outcomes, now))


def create_campaign(ledger: CampaignLedger, prepared: PreparedSend) -> int:
    """Create the prepared campaign; refuses when another send of the issue created one meanwhile."""
    m = prepared.message
    created = ledger.create(
        NewCampaign(
            issue=prepared.issue,
            subject=m.subject,
            provider=prepared.provider,
            html=m.html,
            text=m.text,
            seen_campaign_id=prepared.seen_campaign_id,
            topics=prepared.topics,
            scheduled_at=prepared.schedule.send_at if prepared.schedule else None,
            batch_id=prepared.schedule.batch_id if prepared.schedule else None,
            asm_group_id=prepared.schedule.asm_group_id if prepared.schedule else None,
            approval_id=prepared.approval_id,
            language=prepared.language,
            editions=tuple(e.frozen() for e in prepared.editions),
        )
    )
    if created.campaign_id is None:
        raise DeliveryError(
            f"another send of {prepared.issue} started campaign {created.newest} meanwhile; nothing was sent by this one",
            hint="run send again: it resumes that campaign ('pain-news campaigns' lists them)",
        )
    return created.campaign_id


MAX_CATEGORY = 255  # SendGrid's longest category


def campaign_category(issue: str, campaign_id: int, *, private: bool = False) -> str:
    """`pain-news-<issue>-<id>`: ASCII and at most 255 characters by construction — the issue's
    folder name is folded and shortened, never the campaign id (tests/test_delivery_sendgrid.py).

    `private` (a send to a sensitive topic): `pain-news-<id>`, the campaign id alone, since the
    folder name may name the condition (docs/security.md, "Patient data")."""
    tail = f"-{campaign_id}"
    if private:
        return f"pain-news{tail}"
    room = MAX_CATEGORY - len("pain-news-") - len(tail)
    return f"pain-news-{ascii_category(issue)[:room].strip('-') or 'issue'}{tail}"


def _run_editions(
    run: _Run,
    ledger: CampaignLedger,
    campaign_id: int,
    editions: list[tuple[tuple[str, ...], OutgoingMessage]],
    first: Provider,
    factory: Callable[[], Provider],
) -> bool:
    """Send one edition after the other (a batch is one message); True when interrupted."""
    try:
        for n, (languages, message) in enumerate(editions):
            if n:  # made now, so it numbers its batches after the previous edition's
                run.writer, run.message = ledger.writer(campaign_id, languages), message
            if run.start(first, factory) or run.stop.is_set():
                return True
    except KeyboardInterrupt:  # between two editions: nothing is in flight, the send resumes
        return True
    return False


def _edition_runs(
    config: Config, prepared: PreparedSend, campaign_id: int
) -> list[tuple[tuple[str, ...], OutgoingMessage]]:
    """Each edition's ledger languages (whose recipients its writer claims) and campaign message,
    the default first; rows older than editions ("") are the default edition's."""
    default = (prepared.language, "") if prepared.editions else ()
    return [(default, _campaign_message(config, prepared, campaign_id, prepared.message))] + [
        ((e.language,), _campaign_message(config, prepared, campaign_id, e.message))
        for e in prepared.editions
    ]


def _campaign_message(
    config: Config, prepared: PreparedSend, campaign_id: int, edition: OutgoingMessage
) -> OutgoingMessage:
    private = bool(sensitive_among(config.topics, prepared.topics))
    message = replace(
        edition,
        label=f"campaign-{campaign_id}",
        campaign_id=campaign_id,
        category=campaign_category(prepared.issue, campaign_id, private=private),
    )
    return schedule.scheduled_message(message, prepared.schedule)


@contextmanager
def _stop_signals_interrupt() -> Iterator[None]:
    """While workers run, a hang-up (SIGHUP: the terminal closed) or SIGTERM (a service manager)
    stops the send as Ctrl-C does: the batches in flight finish and are recorded, then it stops
    (docs/sending.md). Only the main thread may set handlers; elsewhere nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {
        sig: signal.signal(sig, signal.default_int_handler) for sig in (signal.SIGHUP, signal.SIGTERM)
    }
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@dataclass(frozen=True, kw_only=True)
class _Batch:
    """A claimed batch, personalised: ledger row ids beside the provider's recipients."""

    claim: Claim
    recipients: list[Recipient]  # personalised here, or:
    encoded: Future[EncodedBatch] | None = None  # being personalised in a worker process

    @property
    def ids(self) -> list[int]:
        return [e.entry_id for e in self.claim.entries]


class _Run:
    """The shared state of one run's worker threads: claiming, pacing, pausing, recording."""

    def __init__(
        self,
        *,
        config: Config,
        writer: BatchWriter,
        message: OutgoingMessage,
        options: SendOptions,
        stop: threading.Event,
        progress: Progress | None,
        pool: personalizing.EncodingPool | None = None,
        breaker: canary.Breaker | None = None,
    ) -> None:
        self.config = config
        self.breaker = breaker  # pauses the campaign at a batch boundary when its rates cross the limits
        self.writer = writer
        self.message = message
        self.options = options
        self.stop = stop
        self.progress = progress
        self.outcomes: Counter[str] = Counter()
        self.error: BaseException | None = None
        self.batch_size = 0
        self.rate = 0.0
        self._lock = threading.Lock()  # pacing, pauses and counts
        self._next_slot = time.monotonic()  # --rate: when the next batch may start
        self._pause_until = 0.0  # after a 429 or 5xx every worker waits
        self._personalizer = Personalizer(config)
        self._pool = pool  # worker processes that personalise, or None: this process does
        self._encoder: Encoder | None = None  # what the pool's workers run, set by start()

    def start(self, first: Provider, factory: Callable[[], Provider]) -> bool:
        """Run the workers until the ledger has nothing pending; True when interrupted (Ctrl-C)."""
        self.rate = self.config.delivery.rate if self.options.rate is None else self.options.rate
        self.batch_size = self.options.batch_size or first.max_batch
        if self.rate > 0:  # keep pacing smooth: at most one second per batch
            self.batch_size = max(1, min(self.batch_size, int(self.rate)))
        threads = self.options.threads or (API_THREADS if first.name == "sendgrid" else 1)
        providers = [first] + [factory() for _ in range(threads - 1)]
        if self._pool is not None:
            assert isinstance(first, EncodingProvider)  # personalizing.pool_for checked it
            self._encoder = first.encoder(self.message)
        try:
            interrupted = self._run_workers(providers)
        finally:
            for p in providers[1:]:
                p.close()
        if self.error is not None:
            raise self.error
        return interrupted

    def _run_workers(self, providers: list[Provider]) -> bool:
        # Each worker signals its own end: after a Ctrl-C inside Thread.join, CPython can report a
        # thread as finished while it still runs, and we must wait for the batch it has in flight.
        finished = [threading.Event() for _ in providers]

        def work(provider: Provider, done: threading.Event) -> None:
            try:
                self.work(provider)
            finally:
                done.set()

        workers = [
            threading.Thread(target=work, args=(p, done), name=f"send-{i}", daemon=True)
            for i, (p, done) in enumerate(zip(providers, finished, strict=True))
        ]
        try:
            with _stop_signals_interrupt():
                for w in workers:
                    w.start()
                for done in finished:
                    while not done.wait(0.2):
                        pass
        except KeyboardInterrupt:
            self.stop.set()  # each worker finishes the batch it has in flight, then stops
            for done in finished:
                done.wait()
            return True
        return False

    def work(self, provider: Provider) -> None:
        """One worker: wait for its turn, claim, deliver, record — until nothing is pending or stop.

        A batch's outcome is written in one transaction with the worker's next claim (one commit,
        not two), unless the worker must wait first (--rate, a pause) or stops: then on its own.
        """
        unrecorded: _Unrecorded | None = None
        try:
            while not self.stop.is_set():
                if unrecorded is not None and self._must_wait():
                    self.record(*unrecorded)
                    unrecorded = None
                if not self._wait_turn():
                    break
                if self.breaker is not None and self.breaker.trips():
                    break  # pending recipients are paused: nothing is left to claim
                batch, unrecorded = self.claim(unrecorded), None
                if batch is None:
                    break
                unrecorded = self._deliver(provider, batch)
            if unrecorded is not None:
                self.record(*unrecorded)
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

    def _must_wait(self) -> bool:
        with self._lock:
            return self.rate > 0 or self._pause_until > time.monotonic()

    def claim(self, unrecorded: _Unrecorded | None = None) -> _Batch | None:
        """The next pending batch (opt-outs since the start skipped by the ledger), personalised;
        `unrecorded` (the previous batch's outcome) is written in the same transaction."""
        if unrecorded is None:
            claim = self.writer.claim(self.batch_size)
        else:
            ids, results = unrecorded
            settled, claim = self.writer.record_and_claim(ids, _outcomes(results), self.batch_size)
            self._count(settled, sum(settled.values()))
        if claim is None:
            return None
        if claim.skipped:
            self._count({LEDGER_SKIPPED: claim.skipped}, claim.skipped)
        # Personalising (signing links) happens after the claim's transaction, so it holds no lock.
        cid = self.writer.campaign_id
        if self._pool is not None:
            assert self._encoder is not None  # start() sets it with the pool
            encoded = self._pool.submit(self._encoder, cid, claim.entries, self.message.send_at)
            return _Batch(claim=claim, recipients=[], encoded=encoded)
        recipients = [
            self._personalizer.recipient(
                cid, e.subscriber_id, e.email, e.first_name, e.last_name, self.message.send_at
            )
            for e in claim.entries
        ]
        return _Batch(claim=claim, recipients=recipients)

    def _deliver(self, provider: Provider, batch: _Batch) -> _Unrecorded | None:
        """Deliver a batch; its outcome to record, or None when it is recorded already (retries, errors)."""
        if not batch.claim.entries:
            return None
        n, attempts = len(batch.claim.entries), batch.claim.attempts
        encoded = self._encoded(batch) if batch.encoded is not None else None
        try:
            if encoded is not None:
                assert isinstance(provider, EncodingProvider)  # personalizing.pool_for checked it
                results = provider.deliver_encoded(self.message, encoded)
            else:
                results = provider.deliver(self.message, batch.recipients)
        except PainNewsError as error:
            # The send must stop (400, 401, 403, a refused login or sender): nothing more was
            # accepted than the results the provider carries (SMTP handles recipients one by one).
            done = error.partial if isinstance(error, PartialDelivery) else []
            self.record(batch.ids, [*done, *[DeliveryResult(RETRY)] * (n - len(done))])
            raise
        except BaseException:
            why = "the send failed unexpectedly during this batch"
            self.record(batch.ids, [DeliveryResult(UNCERTAIN, reason=why)] * n)
            raise
        retries = [r for r in results if r.status == RETRY]
        if retries and attempts < self.options.max_attempts:
            # Pause first: once the rows are pending again another worker may claim them at once.
            waits = [r.retry_after for r in retries if r.retry_after is not None]
            delay = backoff_delay(attempts, self.options.backoff_base, max(waits) if waits else None)
            with self._lock:
                self._pause_until = max(self._pause_until, time.monotonic() + delay)
        if not retries:
            return batch.ids, results
        self.record(batch.ids, results)  # now: the rows to retry are pending again before any pause
        if attempts >= self.options.max_attempts:
            raise DeliveryError(
                f"gave up after {attempts} attempts: {retries[0].reason or 'temporary failure'}",
                hint="the campaign is resumable: run the same send command again later",
            )
        return None

    def _encoded(self, batch: _Batch) -> EncodedBatch:
        """The worker process's result; when it failed nothing left for this batch: back to pending."""
        assert batch.encoded is not None
        try:
            return batch.encoded.result()
        except Exception as error:
            why = "personalising the batch failed; nothing was sent"
            self.record(batch.ids, [DeliveryResult(RETRY, reason=why)] * len(batch.ids))
            raise DeliveryError(
                f"personalising a batch failed in a worker process ({type(error).__name__}); nothing of it was sent",
                hint="run the same send command again: it resumes where this one stopped",
            ) from error

    def record(self, ids: list[int], results: list[DeliveryResult]) -> None:
        """Write one batch's outcomes (one transaction); a retry puts the recipient back `pending`."""
        settled = self.writer.record(ids, _outcomes(results))
        self._count(settled, sum(settled.values()))

    def _count(self, outcomes: dict[str, int], settled: int) -> None:
        with self._lock:
            self.outcomes.update(outcomes)
        if self.progress is not None and settled:
            self.progress(settled)


_Unrecorded = tuple[list[int], list[DeliveryResult]]  # a delivered batch's ledger ids and results


def _outcomes(results: list[DeliveryResult]) -> list[Outcome]:
    """The ledger's Outcome per result; a retry puts the recipient back `pending`."""
    # A provider usually hands one result object to a whole batch: one Outcome for it, not one each.
    made: dict[int, Outcome] = {}
    outcomes = []
    for r in results:
        outcome = made.get(id(r))
        if outcome is None:
            outcome = made[id(r)] = Outcome(
                _LEDGER_STATE.get(r.status, LEDGER_PENDING), r.message_id, r.reason
            )
        outcomes.append(outcome)
    return outcomes


def _dry_run(config: Config, ledger: CampaignLedger, prepared: PreparedSend) -> dict[str, int]:
    """Personalise every message that would go out, deliver none, write nothing.

    Skips suppressed addresses as a real send's claim does, and counts them.
    """
    campaign_id = prepared.campaign_id or 0
    counts = {"checked": 0, LEDGER_SKIPPED: 0}
    personalizer = Personalizer(config)
    for entry, suppressed in ledger.unsent(prepared.campaign_id, prepared.topics):
        if suppressed:
            counts[LEDGER_SKIPPED] += 1
            continue
        personalizer.recipient(
            campaign_id, entry.subscriber_id, entry.email, entry.first_name, entry.last_name
        )
        counts["checked"] += 1
    return counts
