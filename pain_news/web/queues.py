"""Queues `serve` works through after answering, so a page never waits on (or reveals) a mail server:
one daemon thread over a FIFO (BackgroundWorker), and the welcome and fresh-link queues built on it
(the signup queue is in web/signups.py)."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Generic, TypeVar

from pain_news.campaign.welcome import Welcomer
from pain_news.errors import CampaignBusy, DeliveryError, PainNewsError, StoreUnavailable
from pain_news.sendgrid.withdraw import drain_withdrawals
from pain_news.subscribers.fresh_link import send_fresh_link

if TYPE_CHECKING:
    from pain_news.config.settings import Config
    from pain_news.subscribers.store import SubscriberStore

log = logging.getLogger("pain_news.web")
RETRY_DELAYS = (10.0, 60.0, 300.0)  # after the runner's own quick retries (delivery/retry.py)
BUSY_PAUSE = 0.2  # seconds: another process is running the welcome campaign, and its run is short
BUSY_TRIES = 150  # ... waited for at most this many times (~30 s), then counted as a failure

Item = TypeVar("Item")


class BackgroundWorker(Generic[Item]):
    """Subclasses define `handle(item)` and `failed(item, detail)`; one failure never stops the thread.

    `pause(seconds)` waits between a handler's retries; it returns True when the worker is closing.
    """

    thread_name = "pain-news-worker"

    def __init__(self, pause: Callable[[float], bool] | None = None) -> None:
        self._queue: queue.Queue[tuple[Item] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.pause = pause or self._stop.wait  # True means: stop waiting, we are shutting down

    def submit(self, item: Item) -> None:
        """Queue one item; returns at once."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
                self._thread.start()
        self._queue.put((item,))

    def join(self) -> None:
        """Wait until every queued item was handled (done, skipped or given up)."""
        self._queue.join()

    def close(self) -> None:
        """Stop the thread after the item in hand; pending retries are abandoned."""
        self._stop.set()
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(30)

    def rest(self, seconds: float) -> None:
        """Wait `seconds` (nothing when zero or less), cut short when the worker is closing."""
        if seconds > 0:
            self._stop.wait(seconds)

    def handle(self, item: Item) -> None:
        raise NotImplementedError

    def failed(self, item: Item, detail: str) -> None:
        raise NotImplementedError

    def _run(self) -> None:
        while True:
            entry = self._queue.get()
            if entry is None:
                self._queue.task_done()
                return
            try:
                self.handle(entry[0])
            except Exception as exc:  # one bad item never stops the worker
                detail = exc.message if isinstance(exc, PainNewsError) else type(exc).__name__
                self.failed(entry[0], detail)
            finally:
                self._queue.task_done()


class WelcomeQueue(BackgroundWorker[int]):
    """Welcomes sent by one daemon thread (started on the first), so a confirmation page never waits.

    The subscriber's ledger row is written before delivery starts (campaign/welcome.py), so a
    failed delivery is retried like any send: after each pause, every pending welcome row goes out.
    """

    thread_name = "pain-news-welcomes"

    def __init__(
        self,
        config: Config,
        store: SubscriberStore,
        *,
        welcomer: Welcomer | None = None,
        retry_delays: Sequence[float] = RETRY_DELAYS,
        pause: Callable[[float], bool] | None = None,
    ) -> None:
        super().__init__(pause)
        self.welcomer = welcomer or Welcomer(config, store)
        self.retry_delays = tuple(retry_delays)

    def handle(self, item: int) -> None:
        attempt: Callable[[int], object] = self.welcomer.welcome
        delays, busy = iter(self.retry_delays), 0
        while True:
            try:
                attempt(item)
                return
            except CampaignBusy:  # another process's run may have missed this row: run again after it
                busy += 1
                if busy > BUSY_TRIES:
                    raise
                delay = BUSY_PAUSE
            except (DeliveryError, StoreUnavailable) as exc:
                next_delay = next(delays, None)
                if next_delay is None:
                    raise
                delay = next_delay
                log.warning(
                    "welcome email for subscriber %d not sent yet (%s); retried in %.0f s",
                    item,
                    exc.message,
                    delay,
                )
            if self.pause(delay):
                return
            attempt = self.welcomer.retry

    def failed(self, item: int, detail: str) -> None:
        # The ledger row stays pending: the next welcome's delivery (or retry) sends it.
        log.error("welcome email for subscriber %d not sent: %s", item, detail)


class FreshLinkQueue(BackgroundWorker[int]):
    """Fresh preference links asked for on an expired link's page, mailed by one daemon thread: the
    page answers at once and the same whatever the subscriber's state (subscribers/fresh_link.py)."""

    thread_name = "pain-news-fresh-links"

    def __init__(
        self, config: Config, store: SubscriberStore, pause: Callable[[float], bool] | None = None
    ) -> None:
        super().__init__(pause)
        self.config, self.store = config, store

    def handle(self, item: int) -> None:
        send_fresh_link(self.config, self.store, item)

    def failed(self, item: int, detail: str) -> None:
        log.error("fresh preference link for subscriber %d not sent: %s", item, detail)


class PeriodicWorker:
    """A daemon thread that runs `chore()` at once, then every `interval` seconds until closed;
    one failed round never stops it (the next round tries again)."""

    thread_name = "pain-news-periodic"

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread (once); the first round runs at once."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
            self._thread.start()

    def close(self) -> None:
        """Stop after the round in hand."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)

    def chore(self) -> None:
        raise NotImplementedError

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.chore()
            except PainNewsError as exc:
                log.warning("%s: %s", self.thread_name, exc.message)
            except Exception as exc:  # one bad round never stops the worker
                log.error("%s: %s", self.thread_name, type(exc).__name__)
            self._stop.wait(self.interval)


class WithdrawalWorker(PeriodicWorker):
    """Drains the withdrawal queue every `interval` seconds while `serve` runs (sendgrid/withdraw.py):
    an opt-out made on a page or by the webhook reaches a scheduled send's suppression at SendGrid
    well before send_at, even when no command is run in between."""

    thread_name = "pain-news-withdrawals"

    def __init__(self, config: Config, store: SubscriberStore, interval: float = 30.0) -> None:
        super().__init__(interval)
        self.config, self.store = config, store

    def chore(self) -> None:
        try:
            for line in drain_withdrawals(self.config, self.store).warnings():
                log.warning("%s", line)  # counts and SendGrid's message only: no address
        except PainNewsError as exc:  # the queue keeps every row for the next round
            log.warning("queued opt-outs were not passed to SendGrid: %s", exc.message)
