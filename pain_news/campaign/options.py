"""A list send's options: one frozen value built once from the command line and passed down whole
(to the gates, the plan and the runner), as twine's `Settings` is."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from pain_news.delivery.retry import BACKOFF_BASE, MAX_ATTEMPTS

PublishedCheck = Literal["archive", "online", "skip"]


@dataclass(frozen=True, kw_only=True)
class SendOptions:
    """How to run a list send (command-line flags); tuning knobs exist for tests and the bench."""

    provider: str | None = None
    dry_run: bool = False
    resend_uncertain: bool = False
    retry_failed: bool = False
    new_campaign: bool = False
    published: PublishedCheck = "archive"  # how the published gate looks (--check-published, --skip-...)
    today: dt.date | None = None  # None: today (the medical review limit is measured from it)
    rate: float | None = None  # messages per second; None: delivery.rate from config (0 = no limit)
    threads: int | None = None
    processes: int | None = None  # worker processes that personalise (None: delivery.processes)
    batch_size: int | None = None
    backoff_base: float = BACKOFF_BASE
    max_attempts: int = MAX_ATTEMPTS
    topics: tuple[str, ...] = ()  # --topic: replaces issue.toml's topics for this send
    at: dt.datetime | None = None  # send --at: a scheduled send (campaign/schedule.py)
    # The canary and the circuit breaker (campaign/canary.py).
    canary: int | None = None  # send --canary N: N recipients first; None: the default rule
    no_canary: bool = False  # --no-canary: no default canary for this send
    ignore_canary: bool = False  # --ignore-canary: send the waiting rest unchecked, breaker off
    breaker_every: float = 10.0  # seconds between two looks at the running campaign's events
