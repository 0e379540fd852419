"""A campaign's rates against the mailbox providers' limits: the one rule the canary check, the
circuit breaker and `report` share (docs/sending.md#canary-sends).

Gmail and Yahoo throttle or junk a sender whose spam-complaint rate passes 0.3% and ask bulk
senders to keep it under 0.1% (`delivery.max_complaint_rate`); a bounce rate over 2%
(`delivery.max_bounce_rate`) marks an old or bought list. Unsubscribes have no provider limit and
are shown for reading only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from pain_news.config.settings import Config, DeliverySettings
    from pain_news.ledger import Outcomes

PROVIDER_COMPLAINT_LIMIT = 0.003  # above it Gmail and Yahoo throttle and junk the sender's mail
Level = Literal["ok", "warning", "over", "info"]  # report colours: green, yellow, red, plain


@dataclass(frozen=True, kw_only=True)
class Rate:
    """One figure over the messages sent, with the limit it is held to (None: shown only)."""

    name: str  # complaints, bounces, unsubscribes
    count: int
    sent: int
    limit: float | None = None  # ours (pain-news.toml): above it the canary check and the breaker stop
    hard_limit: float | None = None  # the providers': above it they throttle or junk

    @property
    def rate(self) -> float:
        return self.count / self.sent if self.sent else 0.0

    @property
    def crossed(self) -> bool:
        """Above our limit: the canary check refuses and the circuit breaker pauses."""
        return self.limit is not None and self.count > 0 and self.rate > self.limit

    @property
    def level(self) -> Level:
        if self.limit is None:
            return "info"
        if self.hard_limit is not None and self.rate > self.hard_limit:
            return "over"
        if self.crossed:
            return "warning" if self.hard_limit is not None else "over"
        return "ok"

    def line(self) -> str:
        """`bounces 3 of 120 sent = 2.50% (limit 2.00%)` — the figure beside its threshold."""
        text = f"{self.name} {self.count} of {self.sent} sent = {percent(self.rate)}"
        if self.limit is None:
            return text + " (no limit: shown for reading)"
        limits = f"limit {percent(self.limit)}"
        if self.hard_limit is not None:
            limits += f"; mailbox providers throttle above {percent(self.hard_limit)}"
        return f"{text} ({limits})"

    def as_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "sent": self.sent,
            "rate": round(self.rate, 6),
            "limit": self.limit,
            "provider_limit": self.hard_limit,
            "level": self.level,
        }


def percent(share: float) -> str:
    return f"{share * 100:.2f}%"


def rates(d: DeliverySettings, outcomes: Outcomes) -> tuple[Rate, Rate, Rate]:
    """Complaints, bounces and unsubscribes of a campaign against the limits in `[delivery]`."""
    sent = outcomes.sent
    return (
        Rate(
            name="complaints",
            count=outcomes.complaints,
            sent=sent,
            limit=d.max_complaint_rate,
            hard_limit=PROVIDER_COMPLAINT_LIMIT,
        ),
        Rate(name="bounces", count=outcomes.bounces, sent=sent, limit=d.max_bounce_rate),
        Rate(name="unsubscribes", count=outcomes.unsubscribes, sent=sent),
    )


def crossed(config: Config, outcomes: Outcomes) -> list[Rate]:
    """The rates above their limit (empty: the campaign may go on)."""
    return [r for r in rates(config.delivery, outcomes) if r.crossed]


def figures_line(config: Config, outcomes: Outcomes) -> str:
    """Every rate beside its limit, on one line."""
    return "; ".join(r.line() for r in rates(config.delivery, outcomes))
