"""SendGrid's Signed Event Webhook: verify the ECDSA signature, apply opt-outs, keep delivery events."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pain_news.errors import StoreError, WebhookRejected
from pain_news.subscribers.store import IncomingEvent, check_email

if TYPE_CHECKING:
    from pain_news.config.settings import Config
    from pain_news.subscribers.store import SubscriberStore

log = logging.getLogger("pain_news.sendgrid.webhook")
SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
MAX_AGE = dt.timedelta(minutes=10)  # older (or as far in the future) is a replay: refused
# Kept per campaign for reports; "bounce" also when it is a block (temporary, no opt-out): the canary
# check and the circuit breaker count blocks with bounces (campaign/deliverability.py).
TRACKED = ("delivered", "open", "click", "bounce")
# Counted per campaign, never tied to a person: no subscriber, no address, no clicked URL (our
# links carry signed per-subscriber tokens). Only sendgrid.count_opens turns the open pixel on.
AGGREGATE_ONLY = ("open", "click")
# An event batch is a list of flat objects (a few fields hold a list of strings): anything deeper
# is not from SendGrid.
MAX_NESTING = 8
DROPPED_REASONS = (("bounce", "bounced"), ("unsubscribe", "unsubscribed"), ("spam", "complained"))


@dataclass
class WebhookSummary:
    applied: int = 0  # status changes made here
    recorded: int = 0  # events stored
    repeated: int = 0  # sg_event_ids seen before
    skipped: int = 0  # malformed events, logged and left out


def verify(
    config: Config, body: bytes, signature: str | None, timestamp: str | None, now: dt.datetime
) -> None:
    """Raise WebhookRejected unless `body` carries a fresh, valid SendGrid signature."""
    from sendgrid.helpers.eventwebhook import EventWebhook  # type: ignore[import-untyped]

    key = config.sendgrid.webhook_public_key
    if not key:
        raise WebhookRejected("sendgrid.webhook_public_key is not configured: events are refused", 403)
    if not signature or not timestamp:
        raise WebhookRejected("unsigned request", 403)
    try:
        sent = dt.datetime.fromtimestamp(int(timestamp), dt.UTC)
    except (ValueError, OverflowError, OSError):
        raise WebhookRejected("bad timestamp", 403) from None
    if abs(now - sent) > MAX_AGE:
        raise WebhookRejected("stale timestamp", 403)
    try:
        verifier = EventWebhook(key)
        valid = verifier.verify_signature(body.decode("utf-8"), signature, timestamp)
    except (ValueError, TypeError, UnicodeDecodeError):  # unreadable key, signature or body
        valid = False
    if not valid:
        raise WebhookRejected("bad signature", 403)


def parse(body: bytes) -> list[dict[str, Any]]:
    """The event batch; WebhookRejected(400) when it is not a JSON array of objects."""
    try:
        events = json.loads(body)
    except ValueError:
        raise WebhookRejected("body is not JSON", 400) from None
    except RecursionError:  # nested deeper than the interpreter's own limit
        raise WebhookRejected("body is nested too deeply", 400) from None
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        raise WebhookRejected("body is not a JSON array of events", 400)
    if _nested_deeper_than(events, MAX_NESTING):
        raise WebhookRejected("body is nested too deeply", 400)
    return events


def _nested_deeper_than(value: Any, limit: int) -> bool:
    """Whether `value` nests lists or objects more than `limit` levels (walked without recursion, so
    what follows — logging, storing — never meets a structure deep enough to overflow the stack)."""
    level: list[Any] = [value]
    for _ in range(limit):
        level = [
            child
            for item in level
            if isinstance(item, (list, dict))
            for child in (item.values() if isinstance(item, dict) else item)
        ]
        if not level:
            return False
    return any(isinstance(item, (list, dict)) for item in level)


def _int(value: Any) -> int | None:
    """A non-negative integer that fits an INTEGER column, else None (JSON may hold 1e400 or Infinity)."""
    try:
        number = int(value) if value not in (None, "") else None
    except (TypeError, ValueError, OverflowError):
        return None
    return number if number is not None and 0 <= number < 2**31 else None


def _opt_out_status(event: dict[str, Any]) -> str | None:
    kind = event.get("event")
    if kind in ("unsubscribe", "group_unsubscribe"):
        return "unsubscribed"
    if kind == "spamreport":
        return "complained"
    if kind == "bounce" and event.get("type", "bounce") == "bounce":  # "blocked" is temporary
        return "bounced"
    if kind == "dropped":
        reason = str(event.get("reason", "")).lower()
        return next((status for word, status in DROPPED_REASONS if word in reason), None)
    return None


def _occurred(value: Any, received: dt.datetime) -> dt.datetime:
    """The event's own time; an absent or absurd timestamp falls back to when we received it."""
    try:
        return dt.datetime.fromtimestamp(int(value), dt.UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return received


def _clean(text: str, limit: int) -> str:
    """Text safe for any database column: no NUL or other control characters (PostgreSQL refuses NUL)."""
    if text.isprintable():  # the usual case, without a pass per character
        return text[:limit]
    return "".join(ch for ch in text if ch.isprintable())[:limit]


def apply_events(
    store: SubscriberStore, events: list[dict[str, Any]], now: dt.datetime | None = None
) -> WebhookSummary:
    """Check every event, then apply the good ones as one transaction (store.apply_delivery_events).

    A malformed event (an address that is not one, a field of the wrong type) is skipped and
    logged — by position and sg_event_id, never by address — and the rest is applied. When the
    database fails, StoreError leaves with nothing applied: the route answers 503 and SendGrid's
    retry applies the batch once (each sg_event_id counts once, opt-outs are idempotent).
    """
    received = now or dt.datetime.now(dt.UTC)
    summary = WebhookSummary()
    incoming: list[IncomingEvent] = []
    for position, event in enumerate(events):
        try:
            checked = _check(event, received)
        except _Malformed as exc:
            summary.skipped += 1
            log.warning(
                "webhook event %d skipped (%s): %s", position, _clean(str(event.get("sg_event_id")), 100), exc
            )
            continue
        if checked is not None:
            incoming.append(checked)
    result = store.apply_delivery_events(incoming, now=received)
    summary.applied, summary.recorded = result.applied, result.recorded
    summary.repeated = result.repeated
    return summary


class _Malformed(Exception):
    """Why an event is skipped; the message never holds the address."""


def _check(event: dict[str, Any], received: dt.datetime) -> IncomingEvent | None:
    """The event as the store takes it; None for kinds we do not keep; _Malformed when unusable."""
    kind = _clean(str(event.get("event", "")), 30)
    status = _opt_out_status(event)
    if status is None and kind not in TRACKED:
        return None
    event_id = _clean(str(event.get("sg_event_id") or ""), 100)
    if not event_id:  # SendGrid always sends one; derive a stable id for anything else
        try:
            digest = hashlib.sha256(json.dumps(event, sort_keys=True).encode()).hexdigest()
        except (TypeError, ValueError):
            raise _Malformed("no sg_event_id, and the event cannot be identified otherwise") from None
        event_id = "sha256:" + digest[:64]
    anonymous = status is None and kind in AGGREGATE_ONLY
    raw = None if anonymous else event.get("email")
    email = None
    if isinstance(raw, str) and raw:
        try:
            email = check_email(raw)
        except StoreError:
            raise _Malformed("the email field is not a valid address") from None
    try:
        fields = ("reason", "type") if anonymous else ("reason", "type", "url")
        kept = {k: event[k] for k in fields if k in event}
        detail = json.dumps(kept)[:2000] if kept else "{}"
    except (TypeError, ValueError):
        raise _Malformed("reason, type or url cannot be kept as text") from None
    return IncomingEvent(
        sg_event_id=event_id,
        kind=kind,
        occurred_at=_occurred(event.get("timestamp"), received),
        campaign_id=_int(event.get("campaign_id")),
        email=email,
        opt_out=status,
        detail=detail,
        opt_out_detail=f"SendGrid {kind} event",
    )
