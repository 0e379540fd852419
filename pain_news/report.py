"""`report` and `campaigns`: what a campaign did, read from its ledger, the opt-outs and the webhook events."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import distinct, func, select

from pain_news.campaign import ledger_counts
from pain_news.errors import NotFound
from pain_news.models import (
    LEDGER_FAILED,
    LEDGER_IN_FLIGHT,
    LEDGER_PENDING,
    LEDGER_SKIPPED,
    LEDGER_UNCERTAIN,
    OPTED_OUT,
    Campaign,
    DeliveryEvent,
    LedgerEntry,
    SubscriberEvent,
)

if TYPE_CHECKING:
    from pain_news.store import SubscriberStore

EVENTS = ("delivered", "open", "click", "bounce", "dropped", "spamreport", "unsubscribe")


@dataclass(frozen=True)
class CampaignReport:
    """Everything `report` shows about one campaign."""

    campaign: dict[str, Any]
    ledger: dict[str, int]
    failed: list[tuple[str, str]]  # (address, reason)
    uncertain: list[str]
    opt_outs: dict[str, int]  # unsubscribed / bounced / complained attributed to this campaign
    events: dict[str, int]  # webhook events: distinct recipients per event type
    recipients: list[dict[str, Any]] | None = field(default=None)

    @property
    def finished(self) -> bool:
        return not (self.ledger.get(LEDGER_PENDING) or self.ledger.get(LEDGER_IN_FLIGHT))

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "campaign": self.campaign,
            "finished": self.finished,
            "ledger": self.ledger,
            "recipients_total": sum(self.ledger.values()),
            "failed": [{"email": e, "reason": r} for e, r in self.failed],
            "uncertain": self.uncertain,
            "opt_outs": self.opt_outs,
            "events": self.events,
        }
        if self.recipients is not None:
            data["recipients"] = self.recipients
        return data

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"

    def lines(self) -> Iterator[str]:
        """The table format."""
        c = self.campaign
        yield f"Campaign {c['id']}: {c['issue']} — {c['subject']}"
        yield f"  started {c['created_at']} via {c['provider']}; {'finished' if self.finished else 'NOT finished (run send again to resume)'}"
        yield f"  {'on the list':<22}{sum(self.ledger.values()):>8}"
        for state, n in self.ledger.items():
            label = "skipped (not active)" if state == LEDGER_SKIPPED else state
            yield f"  {label:<22}{n:>8}"
        for status in OPTED_OUT:
            yield f"  {status + ' since':<22}{self.opt_outs.get(status, 0):>8}"
        for event in EVENTS:
            if event in self.events:
                yield f"  {'webhook ' + event:<22}{self.events[event]:>8}"
        if self.failed:
            yield "Failed:"
            yield from (f"  {email}: {reason}" for email, reason in self.failed)
        if self.uncertain:
            yield "Uncertain (may or may not have been delivered; --resend-uncertain resends):"
            yield from (f"  {email}" for email in self.uncertain)
        if self.recipients is not None:
            yield "Recipients:"
            for r in self.recipients:
                detail = r["message_id"] or r["reason"] or ""
                yield f"  {r['email']:<40} {r['state']:<10} {detail}"


def find_campaign(
    store: SubscriberStore, *, issue: str | None = None, campaign_id: int | None = None
) -> Campaign:
    """A campaign by id, or the newest one of an issue (folder name)."""
    with store.session() as s:
        if campaign_id is not None:
            found = s.get(Campaign, campaign_id)
            what = f"campaign {campaign_id}"
        else:
            found = s.scalar(
                select(Campaign).where(Campaign.issue == issue).order_by(Campaign.id.desc()).limit(1)
            )
            what = f"campaign for issue {issue!r}"
        if found is None:
            raise NotFound(f"no {what}", hint="'pain-news campaigns' lists them")
        s.expunge(found)
        return found


def campaign_report(
    store: SubscriberStore, campaign: Campaign, *, recipients: bool = False
) -> CampaignReport:
    """Build the report of one campaign."""
    cid = campaign.id
    with store.reader.connect() as conn:
        failed = [
            (e, r or "")
            for e, r in conn.execute(
                select(LedgerEntry.email, LedgerEntry.reason)
                .where(LedgerEntry.campaign_id == cid, LedgerEntry.state == LEDGER_FAILED)
                .order_by(LedgerEntry.position)
            )
        ]
        uncertain = list(
            conn.scalars(
                select(LedgerEntry.email)
                .where(
                    LedgerEntry.campaign_id == cid,
                    LedgerEntry.state.in_((LEDGER_UNCERTAIN, LEDGER_IN_FLIGHT)),
                )
                .order_by(LedgerEntry.position)
            )
        )
        opt_outs = {
            status: int(n)
            for status, n in conn.execute(
                select(SubscriberEvent.new_status, func.count(distinct(SubscriberEvent.subscriber_id)))
                .where(SubscriberEvent.campaign_id == cid, SubscriberEvent.new_status.in_(OPTED_OUT))
                .group_by(SubscriberEvent.new_status)
            )
        }
        # Delivered, opened and clicked are always shown (0 until SendGrid's webhook reports any).
        events = {"delivered": 0, "open": 0, "click": 0} | {
            event: int(n)
            for event, n in conn.execute(
                select(
                    DeliveryEvent.event,
                    func.count(distinct(func.coalesce(DeliveryEvent.subscriber_id, DeliveryEvent.id))),
                )
                .where(DeliveryEvent.campaign_id == cid)
                .group_by(DeliveryEvent.event)
            )
        }
        rows = None
        if recipients:
            rows = [
                {"email": e, "subscriber_id": sid, "state": st, "message_id": mid, "reason": why}
                for e, sid, st, mid, why in conn.execute(
                    select(
                        LedgerEntry.email,
                        LedgerEntry.subscriber_id,
                        LedgerEntry.state,
                        LedgerEntry.message_id,
                        LedgerEntry.reason,
                    )
                    .where(LedgerEntry.campaign_id == cid)
                    .order_by(LedgerEntry.position)
                )
            ]
    return CampaignReport(
        _describe(campaign), ledger_counts(store, cid), failed, uncertain, opt_outs, events, rows
    )


def _describe(c: Campaign) -> dict[str, Any]:
    return {
        "id": c.id,
        "issue": c.issue,
        "subject": c.subject,
        "provider": c.provider,
        "created_at": c.created_at.strftime("%Y-%m-%d %H:%M UTC"),
    }


def list_campaigns(store: SubscriberStore) -> list[dict[str, Any]]:
    """Every campaign, newest first, with its ledger counts."""
    with store.session() as s:
        campaigns = list(s.scalars(select(Campaign).order_by(Campaign.id.desc())))
        described = [_describe(c) for c in campaigns]
    for row in described:
        row["ledger"] = ledger_counts(store, row["id"])
        row["finished"] = not (row["ledger"][LEDGER_PENDING] or row["ledger"][LEDGER_IN_FLIGHT])
    return described
