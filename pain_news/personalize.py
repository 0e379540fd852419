"""One recipient's personal values and headers: names, address, signed unsubscribe link."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pain_news.delivery.base import Recipient
from pain_news.unsubscribe import list_unsubscribe_headers, unsubscribe_url

if TYPE_CHECKING:
    from pain_news.config import Config

#: Test sends use a subscriber id no one has, so their unsubscribe link names nobody.
SAMPLE_SUBSCRIBER_ID = 0


def recipient_for(
    config: Config, campaign_id: int | None, subscriber_id: int, email: str, first_name: str, last_name: str
) -> Recipient:
    """The Recipient for one subscriber: raw values (escaping is the message builder's job) and headers."""
    url = unsubscribe_url(config, subscriber_id, campaign_id)
    values = {"first_name": first_name, "last_name": last_name, "email": email, "unsubscribe_url": url}
    return Recipient(email, values, list_unsubscribe_headers(config, url), subscriber_id)


def sample_recipient(config: Config, to: str) -> Recipient:
    """A test-send recipient: the address given, the [sample] subscriber's values in the placeholders."""
    sample = config.sample
    recipient = recipient_for(
        config, None, SAMPLE_SUBSCRIBER_ID, sample.email, sample.first_name, sample.last_name
    )
    return Recipient(to, recipient.values, recipient.headers, None)
