"""The inbound-mail settings' rules, and the keys on their way out (pain_news/config/settings.py calls both).

Kept apart from settings.py: what makes inbound mail work (docs/serve.md) is one job.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pain_news.errors import ConfigError

if TYPE_CHECKING:
    from pain_news.config.settings import Config


def validate_inbound(config: Config, where: Callable[[str], dict[str, Any]]) -> None:
    """ConfigError (naming where the value was set: `where(dotted)`) for inbound settings that cannot work."""
    news = config.newsletter
    domain = news.inbound_domain
    if domain and ("@" in domain or "/" in domain or " " in domain or "." not in domain.strip(".")):
        raise ConfigError(
            f"newsletter.inbound_domain must be a domain name (inbound.clinic.example), got {domain!r}",
            **where("newsletter.inbound_domain"),
        )
    forward = news.replies_forward_to
    if forward and ("@" not in forward or forward.rpartition("@")[2].lower() == domain.lower()):
        raise ConfigError(
            "newsletter.replies_forward_to must be a monitored mailbox outside newsletter.inbound_domain, "
            f"got {forward!r}",
            hint="a forward into the inbound domain would come straight back as a reply",
            **where("newsletter.replies_forward_to"),
        )
    if news.reply_answer_days < 1:
        raise ConfigError(
            f"newsletter.reply_answer_days must be 1 or more, got {news.reply_answer_days}",
            **where("newsletter.reply_answer_days"),
        )
    if config.serve.inbound_max_bytes < 1024:
        raise ConfigError(
            f"serve.inbound_max_bytes must be 1024 or more, got {config.serve.inbound_max_bytes}",
            **where("serve.inbound_max_bytes"),
        )


def deprecations(config: Config) -> tuple[str, ...]:
    """Keys still accepted for one release (an unknown-key error would break existing configs)."""
    if not config.delivery.unsubscribe_mailto:
        return ()
    return (
        f"delivery.unsubscribe_mailto (set in {config.source('delivery.unsubscribe_mailto')}) is no longer "
        "used: nobody processed that mailbox. Set newsletter.inbound_domain instead (List-Unsubscribe then "
        "carries mailto:unsubscribe-TOKEN@<inbound_domain>, handled by pain-news; docs/serve.md) and "
        "remove delivery.unsubscribe_mailto.",
    )
