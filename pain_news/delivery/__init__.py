"""Delivery: providers (outbox, smtp, sendgrid) and the one-off sends that are not list sends."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pain_news.delivery.base import (
    FAILED,
    RETRY,
    SENT,
    UNCERTAIN,
    DeliveryResult,
    OutgoingMessage,
    Provider,
    Recipient,
    message_from_config,
)
from pain_news.delivery.registry import get_provider

if TYPE_CHECKING:
    from pain_news.config.settings import Config

TRANSACTIONAL_ATTEMPTS = 2
TRANSACTIONAL_BACKOFF = 0.5  # seconds (±50% jitter) between the two attempts

__all__ = [
    "FAILED",
    "RETRY",
    "SENT",
    "UNCERTAIN",
    "DeliveryResult",
    "OutgoingMessage",
    "Provider",
    "Recipient",
    "get_provider",
    "message_from_config",
    "send_transactional",
]


def send_transactional(config: Config, *, to: str, subject: str, text: str, html: str) -> None:
    """Send one ready-made message (e.g. a signup confirmation) through the configured provider.

    Raises DeliveryError when it could not be delivered; retries what provably did not arrive,
    but only briefly (2 attempts, under a second of waiting): a web page is waiting for the answer.
    """
    # lazy: a send's worker processes import this package and never send one message at a time
    from pain_news.delivery.retry import deliver_now

    message = message_from_config(config, subject, html, text, label="transactional")
    provider = get_provider(config)
    try:
        deliver_now(
            provider,
            message,
            [Recipient(email=to)],
            base=TRANSACTIONAL_BACKOFF,
            attempts=TRANSACTIONAL_ATTEMPTS,
        )
    finally:
        provider.close()
