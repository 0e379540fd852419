"""One recipient's personal values and headers: names, address, signed unsubscribe and preference links."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from pain_news.delivery.base import Recipient
from pain_news.issue.placeholders import recipient_values
from pain_news.links import (
    link_base,
    list_unsubscribe_headers,
    list_unsubscribe_value,
    preferences_token_maker,
    token_maker,
)

if TYPE_CHECKING:
    from pain_news.config.settings import Config

#: Test sends use a subscriber id no one has, so their unsubscribe link names nobody.
SAMPLE_SUBSCRIBER_ID = 0


class Personalizer:
    """Makes Recipients for one send: the link settings are checked once, not per recipient."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.base = link_base(config)  # ConfigError when public_url or the secret key is missing
        self.secret = config.secrets.secret_key
        self._token = token_maker(self.secret)
        self._preferences = preferences_token_maker(self.secret)
        self._headers = list_unsubscribe_headers(config, "")
        self._inbound_domain = config.newsletter.inbound_domain

    def recipient(
        self,
        campaign_id: int | None,
        subscriber_id: int,
        email: str,
        first_name: str,
        last_name: str,
        send_at: int | None = None,
    ) -> Recipient:
        """Raw values (escaping is the message builder's job) and the List-Unsubscribe headers.

        The preference link's days start when the copy is delivered: `send_at` (Unix seconds) for
        a scheduled send, else now, as it is handed over (pain_news/links.py)."""
        token = self._token(subscriber_id, campaign_id)
        url = f"{self.base}/unsubscribe/{token}"
        delivered = int(time.time()) if send_at is None else send_at
        preferences = self._preferences(subscriber_id, campaign_id, delivered)
        values = recipient_values(
            first_name=first_name,
            last_name=last_name,
            email=email,
            unsubscribe_url=url,
            preferences_url=f"{self.base}/preferences/{preferences}",
        )
        unsubscribe = list_unsubscribe_value(url, token, self._inbound_domain)
        headers = {**self._headers, "List-Unsubscribe": unsubscribe}
        return Recipient(email, values, headers, subscriber_id)


def recipient_for(
    config: Config, campaign_id: int | None, subscriber_id: int, email: str, first_name: str, last_name: str
) -> Recipient:
    """The Recipient for one subscriber (see Personalizer for many)."""
    return Personalizer(config).recipient(campaign_id, subscriber_id, email, first_name, last_name)


def sample_recipient(config: Config, to: str) -> Recipient:
    """A test-send recipient: the address given, the [sample] subscriber's values in the placeholders."""
    sample = config.sample
    recipient = recipient_for(
        config, None, SAMPLE_SUBSCRIBER_ID, sample.email, sample.first_name, sample.last_name
    )
    return Recipient(to, recipient.values, recipient.headers, None)
