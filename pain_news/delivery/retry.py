"""Exponential backoff with jitter, and delivery of a few messages outside any campaign."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from pain_news.delivery.base import FAILED, RETRY, SENT, DeliveryResult, OutgoingMessage, Provider, Recipient
from pain_news.errors import DeliveryError, ProviderBusy

T = TypeVar("T")

MAX_ATTEMPTS = 5
BACKOFF_BASE = 1.0  # seconds before the second attempt
BACKOFF_CAP = 60.0
RATE_LIMIT_CAP = 900.0  # never wait longer than this on one 429, whatever the headers say


def backoff_delay(attempt: int, base: float = BACKOFF_BASE, retry_after: float | None = None) -> float:
    """Seconds to wait before attempt `attempt + 1`: the provider's wish, else base·2ⁿ with ±50% jitter."""
    if retry_after is not None:
        return min(max(retry_after, 0.0), RATE_LIMIT_CAP) + random.uniform(0, base / 4)
    return float(min(base * 2 ** (attempt - 1), BACKOFF_CAP) * random.uniform(0.5, 1.5))


def retry_after_seconds(headers: Any) -> float | None:
    """Seconds to wait from Retry-After, else X-RateLimit-Reset (a Unix time); None when neither says."""
    if headers is None:
        return None
    for name, absolute in (("Retry-After", False), ("X-RateLimit-Reset", True)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value)
        except ValueError:
            continue
        return max(seconds - time.time(), 0.0) if absolute else seconds
    return None


def retry_call(
    call: Callable[[], T],
    *,
    attempts: int = MAX_ATTEMPTS,
    base: float = BACKOFF_BASE,
    sleep: Callable[[float], None] = time.sleep,
    hint: str = "SendGrid may be having an outage: run the same command again in a few minutes",
    then: str = "",
) -> T:
    """`call()`, repeated while it raises ProviderBusy — the list send's policy: the same attempts and
    backoff, Retry-After honoured — then one DeliveryError naming the last failure (and `then`)."""
    for attempt in range(1, max(attempts, 1) + 1):
        try:
            return call()
        except ProviderBusy as busy:
            if attempt >= attempts:
                raise DeliveryError(
                    f"{busy.message}, still after {attempts} attempts{then}", hint=hint
                ) from None
            sleep(backoff_delay(attempt, base, busy.retry_after))
    raise AssertionError("unreachable")


def deliver_now(
    provider: Provider,
    message: OutgoingMessage,
    recipients: Sequence[Recipient],
    *,
    base: float = BACKOFF_BASE,
    attempts: int = MAX_ATTEMPTS,
    sleep: Callable[[float], None] = time.sleep,
) -> list[DeliveryResult]:
    """Deliver a handful of messages (tests, confirmations), retrying what provably did not arrive.

    Requests hold at most `provider.max_batch` recipients (SendGrid refuses more than 1,000
    personalizations in one: tests/test_delivery_sendgrid.py)."""
    final: dict[int, DeliveryResult] = {}
    todo = list(range(len(recipients)))
    size = max(provider.max_batch, 1)
    for attempt in range(1, attempts + 1):
        waits: list[float | None] = []
        for start in range(0, len(todo), size):
            part = todo[start : start + size]
            results = provider.deliver(message, [recipients[i] for i in part])
            waits += [r.retry_after for r in results if r.status == RETRY]
            for index, result in zip(part, results, strict=True):
                final[index] = result
        todo = [i for i in todo if final[i].status == RETRY]
        if not todo:
            break
        if attempt < attempts:
            sleep(backoff_delay(attempt, base, max((w for w in waits if w is not None), default=None)))
    problems = [(recipients[i].email, r) for i, r in sorted(final.items()) if r.status != SENT]
    if problems:
        email, result = problems[0]
        verb = "was refused" if result.status == FAILED else "could not be delivered"
        raise DeliveryError(
            f"{email} {verb}: {result.reason or result.status}"
            + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else "")
        )
    return [final[i] for i in range(len(recipients))]
