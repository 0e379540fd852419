"""The provider registry: a provider by name (outbox, smtp, sendgrid), made from the config.

It imports the providers, which import only `delivery.base`: no provider ever imports this
module, so nothing loops. Providers are imported when chosen, so one send loads one of them.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from pain_news.delivery.base import Provider
from pain_news.errors import ConfigError

if TYPE_CHECKING:
    from pain_news.config.settings import Config


def get_provider(config: Config, name: str | None = None) -> Provider:
    """The provider named by `name`, else by `delivery.provider` (outbox by default)."""
    chosen = name or config.delivery.provider
    if chosen == "outbox":
        # lazy: each provider's dependencies load only when it is the one chosen
        from pain_news.delivery.outbox import OutboxProvider

        return OutboxProvider(config.resolve(config.delivery.outbox_dir))
    if chosen == "smtp":
        # lazy: smtplib and ssl load only for an SMTP send
        from pain_news.delivery.smtp import SmtpProvider

        settings = config.smtp
        if settings.ca_file:  # relative to the project, like every other path in the config
            settings = replace(settings, ca_file=str(config.resolve(settings.ca_file)))
        return SmtpProvider(settings, config.secrets.smtp_password)
    if chosen == "sendgrid":
        # lazy: the sendgrid package loads only for a SendGrid send
        from pain_news.delivery.sendgrid import SendgridProvider

        return SendgridProvider(config.sendgrid, config.secrets.sendgrid_api_key)
    raise ConfigError(f"unknown delivery provider {chosen!r} (expected outbox, smtp or sendgrid)")
