"""Signups off the request path: one worker thread records each request and mails the confirmation.

The form's answer is then the same page, after the same work, for every address: whether it is
new, on the list, opted out or undeliverable shows neither in the status code nor in the timing
(issue 9). A confirmation that cannot be sent is retried a few times with growing pauses.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from pain_news.errors import DeliveryError
from pain_news.subscribers.store import email_hash
from pain_news.web.queues import BackgroundWorker

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


class SignupQueue(BackgroundWorker[tuple[str, str, "tuple[str, ...] | None"]]):
    """A FIFO of signup requests handled by one daemon thread (started on the first request)."""

    thread_name = "pain-news-signups"

    def __init__(
        self,
        config: Config,
        store: SubscriberStore,
        *,
        retry_delays: Sequence[float] = RETRY_DELAYS,
        pause: Callable[[float], bool] | None = None,
    ) -> None:
        super().__init__(pause)
        self.config, self.store = config, store
        self.retry_delays = tuple(retry_delays)

    def submit_signup(self, email: str, first_name: str, topics: tuple[str, ...] | None = None) -> None:
        """Queue one validated signup (topics: None when the form offered none); returns at once."""
        self.submit((email, first_name, topics))

    def handle(self, item: tuple[str, str, tuple[str, ...] | None]) -> None:
        self._handle(*item)

    def failed(self, item: tuple[str, str, tuple[str, ...] | None], detail: str) -> None:
        log.error("signup failed: %s", redact(detail))

    def _handle(self, email: str, first_name: str, topics: tuple[str, ...] | None) -> None:
        from pain_news.subscribers import signup

        confirmation = signup.request_signup(self.config, self.store, email, first_name, topics)
        if confirmation is None:
            return
        for attempt, delay in enumerate((*self.retry_delays, None), 1):
            try:
                signup.send_confirmation(self.config, confirmation)
                return
            except DeliveryError as exc:
                reason = redact(exc.message)
                if delay is None:
                    log.error(
                        "confirmation to %s not sent after %d attempts: %s", who(email), attempt, reason
                    )
                    return  # the request stays pending; submitting the form again sends a fresh link
                log.warning("confirmation to %s not sent (attempt %d): %s", who(email), attempt, reason)
                if self.pause(delay):
                    return
