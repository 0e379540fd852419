"""Canary sends and the circuit breaker (docs/sending.md#canary-sends).

A canary sends a campaign to a few recipients chosen at random (the same ones for the same
campaign) and holds the rest (`held` in the ledger). The next run waits `delivery.canary_wait_minutes`
after the canary's last message, reads what came back (ledger/health.py) and lets the rest go only
when the bounce and complaint rates are under the limits (campaign/deliverability.py). During any
SMTP or SendGrid send the same limits act as a circuit breaker: the pending recipients become
`paused` at the next batch and the send stops; `--ignore-canary` lets held or paused recipients go
unchecked.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import TYPE_CHECKING

from pain_news.campaign.deliverability import crossed, figures_line
from pain_news.config.clock import clinic_zone, shown
from pain_news.errors import CanaryRefused, DeliveryError, ScheduleError, SendPaused
from pain_news.ledger import CampaignHealth, CampaignLedger, Outcomes
from pain_news.vocab import LEDGER_HELD, LEDGER_IN_FLIGHT, LEDGER_PAUSED, LEDGER_PENDING

if TYPE_CHECKING:
    from pain_news.campaign.options import SendOptions
    from pain_news.config.settings import Config

LISTENING_PROVIDERS = ("smtp", "sendgrid")  # the outbox mails nobody: no canary, no breaker
BREAKER_MIN_SENT = 100  # the breaker judges a running send from this many messages sent


def canary_size(
    config: Config, ledger: CampaignLedger, options: SendOptions, provider: str, active: int
) -> int:
    """How many recipients a new campaign sends first (0: everyone now).

    `--canary N` asks for N. Otherwise an SMTP or SendGrid send gets `delivery.first_send_canary`
    when the list was never sent to, or when more than that many addresses were imported since the
    last send. A canary only means something when the list is larger than it: a list of at most N
    active subscribers is sent whole.
    """
    if options.no_canary:
        return 0
    size = options.canary if options.canary is not None else _default_size(config, ledger, provider)
    if not size or active <= size:
        return 0
    if options.at is not None:
        raise ScheduleError(
            f"this send starts with a canary of {size} (of {active} recipients), and a canary cannot be scheduled",
            hint="send the canary now (without --at) and schedule nothing, or add --no-canary to schedule everyone",
        )
    return size


def _default_size(config: Config, ledger: CampaignLedger, provider: str) -> int:
    size = config.delivery.first_send_canary
    if not size or provider not in LISTENING_PROVIDERS:
        return 0
    last = ledger.last_issue_campaign_at()
    if last is None or ledger.imported_since(last) > size:
        return size
    return 0


def plan_notes(config: Config, options: SendOptions, size: int, active: int) -> tuple[str, ...]:
    """The plan's line about a canary: who goes first, who waits, and how to skip it."""
    explicit = options.canary is not None
    if not size:
        if explicit:
            return (
                f"Canary:     --canary {options.canary} covers all {active} recipients: they are sent as one send",
            )
        return ()
    why = "--canary" if explicit else "a first send to this list, or a large import since the last send"
    skip = "" if explicit else "; --no-canary sends to everyone now"
    return (
        f"Canary:     {size} of {active} recipients, chosen at random, go first ({why}); the other "
        f"{active - size} wait until it is checked, {config.delivery.canary_wait_minutes} minutes after it{skip}",
    )


def release_waiting(
    config: Config,
    ledger: CampaignLedger,
    campaign_id: int,
    states: dict[str, int],
    provider: str,
    options: SendOptions,
    now: dt.datetime,
) -> tuple[bool, list[str]]:
    """Whether this run releases a campaign's held or paused recipients, and the plan's notes.

    Raises CanaryRefused when it may not: the canary's wait is not over, or its rates are over the
    limits (the figures beside the limits, with --ignore-canary as the override).
    """
    held, paused = states.get(LEDGER_HELD, 0), states.get(LEDGER_PAUSED, 0)
    running = states.get(LEDGER_PENDING, 0) + states.get(LEDGER_IN_FLIGHT, 0)
    if not (paused or (held and not running)):
        if held:
            return False, [f"the canary is not finished: this run sends the rest of it; {held} still wait"]
        return False, []
    waiting = held + paused
    if options.ignore_canary:
        return True, [f"--ignore-canary: the {waiting} waiting recipients go now, unchecked, breaker off"]
    outcomes = CampaignHealth(ledger.reader).outcomes(campaign_id)
    if held and not paused:
        _refuse_early(config, outcomes, now)
    over = crossed(config, outcomes)
    what = "the circuit breaker paused this send" if paused else "the canary"
    if over:
        raise CanaryRefused(
            f"campaign {campaign_id}: {what}: {figures_line(config, outcomes)} — over the limit; "
            f"{waiting} recipients wait{_feed_note(config, provider)}",
            hint="read docs/sending.md#when-the-circuit-breaker-trips; clean the list, or run the same "
            "command with --ignore-canary to send the rest anyway",
        )
    return True, [
        f"{what}: {figures_line(config, outcomes)} — under the limits; the other {waiting} go now"
        + _feed_note(config, provider)
    ]


def _refuse_early(config: Config, outcomes: Outcomes, now: dt.datetime) -> None:
    """Refuse before `canary_wait_minutes` after the canary's last message, saying how long is left."""
    last = outcomes.last_settled or now
    ready = last + dt.timedelta(minutes=config.delivery.canary_wait_minutes)
    if now >= ready:
        return
    left = max(1, int((ready - now).total_seconds() // 60) + 1)
    raise CanaryRefused(
        f"the canary went out at {shown(last, clinic_zone(config))}; its bounces and complaints are "
        f"checked from {shown(ready, clinic_zone(config))} ({left} minutes left)",
        hint="run the same command again then; --ignore-canary sends the rest now, unchecked",
    )


def _feed_note(config: Config, provider: str) -> str:
    """What an SMTP send can measure: only the bounce reports that come back by mail."""
    if provider != "smtp":
        return ""
    return (
        " (SMTP has no event feed: only bounce reports that come back by mail to "
        f"{config.newsletter.inbound_domain or 'newsletter.inbound_domain (not set)'} are counted, "
        "and spam complaints cannot be seen)"
    )


def waiting_lines(
    config: Config, provider: str, held: int, outcomes: Outcomes, now: dt.datetime
) -> list[str]:
    """What the canary's run says at its end: when to run again and what will be checked."""
    ready = (outcomes.last_settled or now) + dt.timedelta(minutes=config.delivery.canary_wait_minutes)
    feed = "SendGrid's event webhook (serve must be receiving it)" if provider == "sendgrid" else "the mail"
    return [
        f"Canary sent: {outcomes.sent} went out; {held} recipients wait.",
        f"Run the same command again from {shown(ready, clinic_zone(config))}: it checks the canary's "
        f"bounces (limit {config.delivery.max_bounce_rate:.2%}) and spam complaints "
        f"(limit {config.delivery.max_complaint_rate:.2%}) reported by {feed}, then sends the rest "
        "only when both are under their limits." + _feed_note(config, provider),
    ]


class Breaker:
    """The circuit breaker of one run: at a batch boundary, looks (at most every `every` seconds)
    at what came back for the running campaign, and pauses it when a rate crosses its limit."""

    def __init__(
        self, config: Config, ledger: CampaignLedger, campaign_id: int, every: float, provider: str
    ) -> None:
        self.config = config
        self.ledger = ledger
        self.health = CampaignHealth(ledger.reader)
        self.campaign_id = campaign_id
        self.every = every
        self.provider = provider
        self.tripped: Outcomes | None = None
        self._next = 0.0
        self._lock = threading.Lock()

    def trips(self) -> bool:
        """True when the campaign is (now) paused: its pending recipients became `paused`."""
        with self._lock:
            if self.tripped is not None:
                return True
            if time.monotonic() < self._next:
                return False
            self._next = time.monotonic() + self.every
            outcomes = self.health.outcomes(self.campaign_id)
            if outcomes.sent < BREAKER_MIN_SENT or not crossed(self.config, outcomes):
                return False
            reason = f"paused by the circuit breaker: {figures_line(self.config, outcomes)}"
            self.ledger.pause(self.campaign_id, reason)
            self.tripped = outcomes
            return True

    def stopped(self, paused: int) -> DeliveryError:
        """What the send stops with once tripped."""
        assert self.tripped is not None
        return SendPaused(
            f"the circuit breaker paused campaign {self.campaign_id}: {figures_line(self.config, self.tripped)} "
            f"— over the limit; {paused} recipients were not sent{_feed_note(self.config, self.provider)}",
            hint="read docs/sending.md#when-the-circuit-breaker-trips; when the cause is fixed, run the same "
            "command with --ignore-canary to send the rest",
        )
