"""SendGrid's Signed Event Webhook: verify the ECDSA signature, apply opt-outs, keep delivery events."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pain_news.errors import PainNewsError, StoreUnavailable, WebhookRejected

if TYPE_CHECKING:
    from pain_news.config import Config
    from pain_news.store import SubscriberStore

log = logging.getLogger("pain_news.webhook")
SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
MAX_AGE = dt.timedelta(minutes=10)  # older (or as far in the future) is a replay: refused
TRACKED = ("delivered", "open", "click")  # kept per campaign for reports
# Counted per campaign, never tied to a person: no subscriber, no address, no clicked URL (our
# links carry signed per-subscriber tokens). Only sendgrid.count_opens turns the open pixel on.
AGGREGATE_ONLY = ("open", "click")
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
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        raise WebhookRejected("body is not a JSON array of events", 400)
    return events


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
    return "".join(ch for ch in text if ch.isprintable())[:limit]


def apply_events(
    store: SubscriberStore, events: list[dict[str, Any]], now: dt.datetime | None = None
) -> WebhookSummary:
    """Apply opt-outs and record events, each sg_event_id once; each event on its own.

    One malformed event (an address that is not one, a NUL byte) is skipped and logged and the
    rest of the batch is still applied. When the database itself fails, the others are still
    tried and StoreError is raised at the end, so the route answers 503 and SendGrid retries
    the batch (harmless: opt-outs are idempotent and each sg_event_id counts once).
    """
    received = now or dt.datetime.now(dt.UTC)
    summary = WebhookSummary()
    failed: StoreUnavailable | None = None
    for position, event in enumerate(events):
        try:
            _apply_one(store, event, received, summary)
        except StoreUnavailable as exc:  # the database, not the event: retry the batch later
            failed = exc
            log.error("webhook event %d not applied: %s", position, exc.message)
        except (PainNewsError, ValueError, TypeError, OverflowError) as exc:
            summary.skipped += 1
            log.warning(
                "webhook event %d skipped (%s): %s",
                position,
                _clean(str(event.get("sg_event_id")), 100),
                _clean(str(exc), 300),
            )
    if failed is not None:
        raise failed
    return summary


def _apply_one(
    store: SubscriberStore, event: dict[str, Any], received: dt.datetime, summary: WebhookSummary
) -> None:
    """The status change comes before the event is recorded: if we die in between, SendGrid's
    retry applies it again (idempotent) instead of finding it "seen" and losing an opt-out."""
    from sqlalchemy import select

    from pain_news.models import DeliveryEvent
    from pain_news.store import check_email

    kind = _clean(str(event.get("event", "")), 30)
    status = _opt_out_status(event)
    if status is None and kind not in TRACKED:
        return
    event_id = _clean(str(event.get("sg_event_id") or ""), 100)
    if not event_id:  # SendGrid always sends one; derive a stable id for anything else
        event_id = "sha256:" + hashlib.sha256(json.dumps(event, sort_keys=True).encode()).hexdigest()[:64]
    with store.session() as s:
        if s.scalar(select(DeliveryEvent.id).where(DeliveryEvent.sg_event_id == event_id)) is not None:
            summary.repeated += 1
            return
    campaign_id = _int(event.get("campaign_id"))
    anonymous = status is None and kind in AGGREGATE_ONLY
    raw = None if anonymous else event.get("email")
    email = check_email(raw) if isinstance(raw, str) and raw else None  # StoreError: skipped, logged
    subscriber = store.get(email) if email else None
    if status is not None and email:
        change = store.opt_out_address(email, status, "webhook", campaign_id, detail=f"SendGrid {kind} event")
        summary.applied += bool(change and change.changed)
    kept = ("reason", "type") if anonymous else ("reason", "type", "url")
    detail = json.dumps({k: event[k] for k in kept if k in event})[:2000]
    if store.record_delivery_event(
        event_id,
        kind,
        _occurred(event.get("timestamp"), received),
        campaign_id=campaign_id,
        subscriber_id=subscriber.id if subscriber else None,
        detail=detail,
    ):
        summary.recorded += 1
    else:
        summary.repeated += 1
