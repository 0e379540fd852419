"""SendGrid's Signed Event Webhook: verify the ECDSA signature, apply opt-outs, keep delivery events."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pain_news.errors import PainNewsError

if TYPE_CHECKING:
    from pain_news.config import Config
    from pain_news.store import SubscriberStore

SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
MAX_AGE = dt.timedelta(minutes=10)  # older (or as far in the future) is a replay: refused
TRACKED = ("delivered", "open", "click")  # kept per campaign for reports
DROPPED_REASONS = (("bounce", "bounced"), ("unsubscribe", "unsubscribed"), ("spam", "complained"))


class WebhookRejected(PainNewsError):
    """The request is not provably from SendGrid (403) or is not an event batch (400)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class WebhookSummary:
    applied: int = 0  # status changes made here
    recorded: int = 0  # events stored
    repeated: int = 0  # sg_event_ids seen before


def verify(config: Config, body: bytes, signature: str | None, timestamp: str | None, now: dt.datetime) -> None:
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
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


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


def apply_events(store: SubscriberStore, events: list[dict[str, Any]]) -> WebhookSummary:
    """Apply opt-outs and record events, each sg_event_id once.

    The status change comes before the event is recorded: if we die in between, SendGrid's
    retry applies it again (idempotent) instead of finding it "seen" and losing an opt-out.
    """
    from sqlalchemy import select

    from pain_news.models import DeliveryEvent

    summary = WebhookSummary()
    for event in events:
        kind = str(event.get("event", ""))
        status = _opt_out_status(event)
        if status is None and kind not in TRACKED:
            continue
        event_id = str(event.get("sg_event_id") or "")[:100]
        if not event_id:  # SendGrid always sends one; derive a stable id for anything else
            event_id = "sha256:" + hashlib.sha256(json.dumps(event, sort_keys=True).encode()).hexdigest()[:64]
        with store.session() as s:
            if s.scalar(select(DeliveryEvent.id).where(DeliveryEvent.sg_event_id == event_id)) is not None:
                summary.repeated += 1
                continue
        campaign_id = _int(event.get("campaign_id"))
        email = str(event.get("email", ""))
        subscriber = store.get(email) if email else None
        if status is not None and email:
            change = store.opt_out_address(email, status, "webhook", campaign_id, detail=f"SendGrid {kind} event")
            summary.applied += bool(change and change.changed)
        occurred = dt.datetime.fromtimestamp(_int(event.get("timestamp")) or 0, dt.UTC)
        detail = json.dumps({k: event[k] for k in ("reason", "type", "url") if k in event})[:2000]
        if store.record_delivery_event(event_id, kind[:30], occurred, campaign_id=campaign_id,
                                       subscriber_id=subscriber.id if subscriber else None, detail=detail):
            summary.recorded += 1
        else:
            summary.repeated += 1
    return summary
