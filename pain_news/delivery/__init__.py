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
    get_provider,
    message_from_config,
)

if TYPE_CHECKING:
    from pain_news.config import Config

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

    Raises DeliveryError when it could not be delivered; retries what provably did not arrive.
    """
    from pain_news.delivery.retry import deliver_now

    message = message_from_config(config, subject, html, text, label="transactional")
    provider = get_provider(config)
    try:
        deliver_now(provider, message, [Recipient(email=to)])
    finally:
        provider.close()
