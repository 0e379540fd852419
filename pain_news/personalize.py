"""One recipient's personal values and headers: names, address, signed unsubscribe and preference links."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pain_news.delivery.base import Recipient
from pain_news.unsubscribe import link_base, list_unsubscribe_headers, make_token

if TYPE_CHECKING:
    from pain_news.config import Config

#: Test sends use a subscriber id no one has, so their unsubscribe link names nobody.
SAMPLE_SUBSCRIBER_ID = 0


class Personalizer:
    """Makes Recipients for one send: the link settings are checked once, not per recipient."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.base = link_base(config)  # ConfigError when public_url or the secret key is missing
        self.secret = config.secrets.secret_key

    def recipient(
        self, campaign_id: int | None, subscriber_id: int, email: str, first_name: str, last_name: str
    ) -> Recipient:
        """Raw values (escaping is the message builder's job) and the List-Unsubscribe headers."""
        url = f"{self.base}/unsubscribe/{make_token(self.secret, subscriber_id, campaign_id)}"
        preferences = make_token(self.secret, subscriber_id, campaign_id, purpose="preferences")
        values = {
            "first_name": first_name,
            "last_name": last_name,
            "email": email,
            "unsubscribe_url": url,
            "preferences_url": f"{self.base}/preferences/{preferences}",
        }
        return Recipient(email, values, list_unsubscribe_headers(self.config, url), subscriber_id)


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
