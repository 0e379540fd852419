"""Signups off the request path: one worker thread records each request and mails the confirmation.

The form's answer is then the same page, after the same work, for every address: whether it is
new, on the list, opted out or undeliverable shows neither in the status code nor in the timing
(docs/security.md). Every signup takes the same time on the queue (SignupPace), so neither does
the moment the next signup's confirmation arrives. A confirmation that cannot be sent is retried
a few times with growing pauses, on a thread of its own. Signups nobody confirms are purged
while `serve` runs (SignupPurge).
"""

from __future__ import annotations

import logging
import re
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from pain_news.errors import DeliveryError
from pain_news.subscribers import signup
from pain_news.subscribers.store import email_hash
from pain_news.web.queues import BackgroundWorker, PeriodicWorker

if TYPE_CHECKING:
    from pain_news.config.settings import Config
    from pain_news.subscribers.store import SubscriberStore

log = logging.getLogger("pain_news.web")
RETRY_DELAYS = (10.0, 60.0, 300.0)  # after the provider's own quick retries (delivery/retry.py)


def who(address: str) -> str:
    """How the server log names an address: a short hash, never the address itself."""
    return f"address {email_hash(address)[:12]}"


_ADDRESS = re.compile(r"[^\s'\"<>(),;:]+@[^\s'\"<>(),;:]+")


def redact(text: str) -> str:
    """`text` with every email address replaced by its short hash (for the server log)."""
    return _ADDRESS.sub(lambda m: who(m.group(0)), text)


class RedactAddresses(logging.Filter):
    """A log filter that replaces addresses in a record's message by their short hash."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "@" in message:
            record.msg, record.args = redact(message), None
        return True


SERVER_LOGGERS = ("pain_news.web", "pain_news.sendgrid.webhook")


def redact_server_log() -> None:
    """Install RedactAddresses on the loggers `serve` writes to (once)."""
    for name in SERVER_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactAddresses) for f in logger.filters):
            logger.addFilter(RedactAddresses())


# Seconds a signup may take on the queue: the budget is the first of these that covers the
# slowest recent confirmation. Coarse steps keep it the same from one signup to the next, which
# is what makes two signups indistinguishable; a stalled relay never stalls signups past the last.
BUDGET_STEPS = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0)
FIRST_BUDGET = 1.0  # before any confirmation was timed
PACE_WINDOW = 20  # confirmations whose times set the budget


class SignupPace:
    """How long every signup takes on the queue, whatever the address: the first of BUDGET_STEPS
    that covers the slowest of the last PACE_WINDOW confirmations (its record and its delivery).

    A signup that mails nothing (the address is active, opted out for good, or over its daily
    limit) waits as long as one that mails, so the next signup's confirmation leaves at the same
    moment either way: nobody can tell from their own mail server's clock what happened to the
    signup before theirs (docs/security.md, tests/test_signup_timing.py).
    """

    def __init__(
        self, first: float = FIRST_BUDGET, window: int = PACE_WINDOW, steps: Sequence[float] = BUDGET_STEPS
    ) -> None:
        self.first, self.steps = first, tuple(steps)
        self._timed: deque[float] = deque(maxlen=window)

    def budget(self) -> float:
        """Seconds one signup takes on the queue."""
        if not self._timed:
            return self.first
        slowest = max(self._timed)
        return next((step for step in self.steps if step >= slowest), self.steps[-1])

    def delivered(self, seconds: float) -> None:
        """A confirmation was recorded and delivered in `seconds`."""
        self._timed.append(seconds)


SignupItem = tuple[str, str, "tuple[str, ...] | None", str]


class SignupQueue(BackgroundWorker[SignupItem]):
    """A FIFO of signup requests handled by one daemon thread (started on the first request).

    Each signup records the request and makes the first delivery attempt of its confirmation, then
    waits out the rest of its SignupPace budget; a confirmation that could not be sent is retried on
    a thread of its own (ConfirmationRetries), so no retry delays the signups queued behind it.
    """

    thread_name = "pain-news-signups"

    def __init__(
        self,
        config: Config,
        store: SubscriberStore,
        *,
        retry_delays: Sequence[float] = RETRY_DELAYS,
        pause: Callable[[float], bool] | None = None,
        pace: SignupPace | None = None,
    ) -> None:
        super().__init__()
        self.config, self.store = config, store
        self.pace = pace or SignupPace()
        self.retries = ConfirmationRetries(config, retry_delays, pause)

    def submit_signup(
        self, email: str, first_name: str, topics: tuple[str, ...] | None = None, language: str = "en"
    ) -> None:
        """Queue one validated signup (topics: None when the form offered none; the confirmation is
        written in `language`, the signup page's); returns at once."""
        self.submit((email, first_name, topics, language))

    def join(self) -> None:
        """Wait until every queued signup was handled and every retry done or given up."""
        super().join()
        self.retries.join()

    def close(self) -> None:
        super().close()
        self.retries.close()

    def handle(self, item: SignupItem) -> None:
        # Taken before this signup: what happens to it changes the budget of later ones only.
        started, budget = time.monotonic(), self.pace.budget()
        try:
            self._record_and_mail(*item, started=started)
        finally:  # whatever happened, the next signup starts when the budget says (SignupPace)
            self.rest(budget - (time.monotonic() - started))

    def failed(self, item: SignupItem, detail: str) -> None:
        log.error("signup failed: %s", redact(detail))

    def _record_and_mail(
        self, email: str, first_name: str, topics: tuple[str, ...] | None, language: str, *, started: float
    ) -> None:
        confirmation = signup.request_signup(self.config, self.store, email, first_name, topics, language)
        if confirmation is None:
            return
        try:
            signup.send_confirmation(self.config, confirmation)
        except DeliveryError as exc:
            self.retries.report(confirmation, 1, exc)
            self.retries.submit(confirmation)
            return
        self.pace.delivered(time.monotonic() - started)


class ConfirmationRetries(BackgroundWorker[signup.Confirmation]):
    """Confirmations whose first attempt failed, retried after growing pauses on their own thread."""

    thread_name = "pain-news-confirmation-retries"

    def __init__(
        self, config: Config, retry_delays: Sequence[float], pause: Callable[[float], bool] | None
    ) -> None:
        super().__init__(pause)
        self.config, self.retry_delays = config, tuple(retry_delays)

    def handle(self, item: signup.Confirmation) -> None:
        for attempt, delay in enumerate(self.retry_delays, 2):
            if self.pause(delay):
                return
            try:
                signup.send_confirmation(self.config, item)
                return
            except DeliveryError as exc:
                self.report(item, attempt, exc)

    def report(self, item: signup.Confirmation, attempt: int, exc: DeliveryError) -> None:
        """Log a failed attempt (the last one as an error: the request stays pending, and submitting
        the form again sends a fresh link)."""
        reason = redact(exc.message)
        if attempt > len(self.retry_delays):
            log.error("confirmation to %s not sent after %d attempts: %s", who(item.to), attempt, reason)
        else:
            log.warning("confirmation to %s not sent (attempt %d): %s", who(item.to), attempt, reason)

    def failed(self, item: signup.Confirmation, detail: str) -> None:
        log.error("confirmation to %s failed: %s", who(item.to), redact(detail))


class SignupPurge(PeriodicWorker):
    """Deletes signups nobody confirmed within subscribers.pending_purge_days while `serve` runs:
    once at start, then every `interval` seconds (subscribers/signup.py: purge_unconfirmed)."""

    thread_name = "pain-news-signup-purge"

    def __init__(self, config: Config, store: SubscriberStore, interval: float = 3600.0) -> None:
        super().__init__(interval)
        self.config, self.store = config, store

    def chore(self) -> None:
        purged = signup.purge_unconfirmed(self.config, self.store)
        if purged.subscribers:
            log.info("purged %d signup(s) nobody confirmed", purged.subscribers)
