"""`report` and `campaigns`: what a campaign did, read from its ledger, the opt-outs, the webhook events
and the emails that came back (replies, opt-outs by email, auto-replies, bounce reports)."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pain_news.campaign import deliverability
from pain_news.campaign.summary import states_line
from pain_news.config.clock import shown
from pain_news.config.languages import label
from pain_news.config.settings import DeliverySettings
from pain_news.errors import NotFound
from pain_news.ledger import (
    TIMELINE_SERIES,
    CampaignHealth,
    CampaignLedger,
    CampaignPoint,
    CampaignRecord,
    is_finished,
)
from pain_news.ledger.approvals import ApprovalBook
from pain_news.vocab import (
    CAMPAIGN_WELCOME,
    LEDGER_CANCELLED,
    LEDGER_SKIPPED,
    LEDGER_WAITING,
    LEDGER_WITHDRAWN,
    OPTED_OUT,
)

if TYPE_CHECKING:
    from pain_news.campaign.deliverability import Level, Rate
    from pain_news.subscribers.store import SubscriberStore, WithdrawalFigures

EVENTS = ("delivered", "open", "click", "bounce", "dropped", "spamreport", "unsubscribe")
TOTALS_ONLY = ("open", "click")  # stored without a person (webhook.py): counted per event, not per reader
Paint = Callable[[str, "Level"], str]  # colours a rate's line by its level (the CLI's click.style)


def _plain(text: str, level: Level) -> str:
    return text


@dataclass(frozen=True, kw_only=True)
class CampaignReport:
    """Everything `report` shows about one campaign."""

    campaign: dict[str, Any]
    ledger: dict[str, int]
    failed: list[tuple[str, str]]  # (address, reason)
    uncertain: list[str]
    opt_outs: dict[str, int]  # unsubscribed / bounced / complained attributed to this campaign
    events: dict[str, int]  # webhook events: distinct recipients per event type
    # Emails back (pain_news/inbound/): replies, opt-outs by email, auto-replies dropped, bounces by email.
    replies: dict[str, int] = field(default_factory=dict)
    recipients: list[dict[str, Any]] | None = field(default=None)
    # A scheduled send's opt-outs still waiting for SendGrid, or too late (sendgrid/withdraw.py).
    withdrawals: WithdrawalFigures | None = None
    # Against the mailbox providers' limits (campaign/deliverability.py), what came back hour by hour,
    # and every issue campaign's list size and rates (the HTML page charts them: campaign/report_page.py).
    rates: tuple[Rate, ...] = ()
    timeline: list[dict[str, Any]] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)
    # Recipients per edition's language, each with its ledger states (docs/sending.md#editions).
    languages: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        return is_finished(self.ledger)

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
            "withdrawn": self.ledger.get(LEDGER_WITHDRAWN, 0),
            "replies": self.replies,
            "rates": {r.name: r.as_dict() for r in self.rates},
            "timeline": self.timeline,
            "history": self.history,
            "languages": {
                lang: {"recipients": sum(counts.values()), "ledger": counts}
                for lang, counts in self.languages.items()
            },
        }
        if self.withdrawals is not None:
            w = self.withdrawals
            data["withdrawals"] = {"waiting": w.waiting, "late": w.late, "last_error": w.last_error}
        if self.recipients is not None:
            data["recipients"] = self.recipients
        return data

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"

    def lines(self, paint: Paint = _plain) -> Iterator[str]:
        """The table format; `paint` colours each rate by how it stands against its limit."""
        c = self.campaign
        kind = "welcome email" if c.get("kind") == CAMPAIGN_WELCOME else c["issue"]
        yield f"Campaign {c['id']}: {kind} — {c['subject']}"
        yield f"  started {c['created_at']} via {c['provider']}; {'finished' if self.finished else 'NOT finished (run send again to resume)'}"
        yield f"  audience: {'topics ' + ', '.join(c['topics']) if c.get('topics') else 'everyone on the list'}"
        if c.get("schedule"):
            yield f"  {c['schedule']}"
        yield f"  {approval_line(c.get('approval'))}"
        yield f"  {'on the list':<22}{sum(self.ledger.values()):>8}"
        yield from self._edition_lines()
        for state, n in self.ledger.items():
            if state in (LEDGER_CANCELLED, *LEDGER_WAITING) and not n:
                continue  # only a cancelled scheduled send, a canary or a paused send has any
            if state == LEDGER_WITHDRAWN:
                if n or c.get("scheduled_at"):  # only a scheduled send can have any
                    yield f"  withdrawn before delivery: {n}"
                continue
            label = "skipped (not active)" if state == LEDGER_SKIPPED else state
            yield f"  {label:<22}{n:>8}"
        for status in OPTED_OUT:
            yield f"  {status + ' since':<22}{self.opt_outs.get(status, 0):>8}"
        for event in EVENTS:
            if event in self.events:
                label = f"webhook {event}" + (" (total)" if event in TOTALS_ONLY else "")
                yield f"  {label:<22}{self.events[event]:>8}"
        for figure, n in self.replies.items():
            yield f"  {figure:<22}{n:>8}"
        if not self.events:
            yield f"  (no delivered, open or click counts: only SendGrid reports them, this went via {c['provider']})"
        if self.rates:
            yield "Rates against the mailbox providers' limits:"
            yield from (paint(f"  {_LEVEL_WORD[r.level]:<9}{r.line()}", r.level) for r in self.rates)
        yield from self._withdrawal_lines()
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
                yield f"  {r['email']:<40} {r['language']:<3} {r['state']:<10} {detail}"

    def _edition_lines(self) -> Iterator[str]:
        """`  edition Español (es)  12  (sent 12)` per edition, when the campaign had more than one."""
        if len(self.languages) < 2:
            return
        for lang, counts in self.languages.items():
            name = f"edition {label(lang)} ({lang})"
            yield f"  {name:<22}{sum(counts.values()):>8}  ({states_line(counts)})"

    def _withdrawal_lines(self) -> Iterator[str]:
        """Said loudly: an opt-out SendGrid could not be told about before send_at."""
        w = self.withdrawals
        if w is None:
            return
        why = f" (last error: {w.last_error})" if w.last_error else ""
        if w.late:
            yield (
                f"WARNING: {w.late} opted out or were erased before the scheduled time, but SendGrid's "
                f"suppression could not be made before it{why}: they may have been mailed."
            )
        if w.waiting:
            yield (
                f"Waiting: {w.waiting} opt-outs are not yet suppressed at SendGrid{why}; "
                "retried by every send, report, subscribers command and by serve until the time."
            )


_LEVEL_WORD = {"ok": "ok", "warning": "warning", "over": "OVER", "info": "-"}


def approval_line(approval: dict[str, Any] | None) -> str:
    """ "approved by Name (key) at …, version abc…, terminal, by OS user x" or "sent without an approval"."""
    if approval is None:
        return "sent without an approval (outbox, or sent before sign-off existed)"
    return (
        f"approved by {approval['reviewer_name']} ({approval['reviewer']}) at {approval['approved_at']}, "
        f"version {approval['hash'][:12]}, {approval['given']}"
    )


def find_campaign(
    store: SubscriberStore, *, issue: str | None = None, campaign_id: int | None = None
) -> CampaignRecord:
    """A campaign by id, or the newest one of an issue (folder name)."""
    ledger = CampaignLedger.for_store(store)
    if campaign_id is not None:
        found, what = ledger.get(campaign_id), f"campaign {campaign_id}"
    else:
        # `report templates/welcome` finds the welcome campaign (an issue folder of that name first).
        found = ledger.latest(issue or "") or ledger.latest(issue or "", kind=CAMPAIGN_WELCOME)
        what = f"campaign for issue {issue!r}"
    if found is None:
        raise NotFound(f"no {what}", hint="'pain-news campaigns' lists them")
    return found


def campaign_report(
    store: SubscriberStore,
    campaign: CampaignRecord,
    *,
    recipients: bool = False,
    zone: dt.tzinfo = dt.UTC,
    now: dt.datetime | None = None,
    limits: DeliverySettings | None = None,
) -> CampaignReport:
    """Build the report of one campaign; scheduled and cancelled times are shown in `zone`, rates
    against `limits` (`[delivery]`; its defaults when None)."""
    ledger = CampaignLedger.for_store(store)
    health = CampaignHealth(store.reader)
    limits = limits or DeliverySettings()
    figures = ledger.figures(campaign.id, recipients=recipients)
    now = now or dt.datetime.now(dt.UTC)
    withdrawals = (
        store.withdrawal_figures(campaign.id, campaign.scheduled_at, now) if campaign.scheduled_at else None
    )
    return CampaignReport(
        campaign=_describe(campaign, zone, now, ApprovalBook.for_store(store)),
        ledger=ledger.counts(campaign.id),
        failed=figures.failed,
        uncertain=figures.uncertain,
        opt_outs=figures.opt_outs,
        events=_events(campaign, figures.events),
        replies=store.reply_figures([campaign.id])[campaign.id],
        recipients=[r | {"language": r["language"] or campaign.language} for r in figures.recipients]
        if figures.recipients is not None
        else None,
        withdrawals=withdrawals,
        rates=deliverability.rates(limits, health.outcomes(campaign.id)),
        timeline=_hourly(health.timeline(campaign.id), zone),
        history=[_point(p, limits, zone) for p in health.history()],
        languages=ledger.counts_by_language(campaign.id, campaign.language),
    )


def _hourly(events: list[tuple[str, dt.datetime]], zone: dt.tzinfo) -> list[dict[str, Any]]:
    """Sends, deliveries, bounces, complaints and unsubscribes counted per hour of the clinic's clock."""
    hours: dict[dt.datetime, Counter[str]] = {}
    for series, at in events:
        hour = at.astimezone(zone).replace(minute=0, second=0, microsecond=0)
        hours.setdefault(hour, Counter())[series] += 1
    return [
        {"hour": hour.strftime("%Y-%m-%d %H:00 %Z"), **{s: counts[s] for s in TIMELINE_SERIES}}
        for hour, counts in sorted(hours.items())
    ]


def _point(point: CampaignPoint, limits: DeliverySettings, zone: dt.tzinfo) -> dict[str, Any]:
    """One campaign of the history: when, the list's size then, and its rates."""
    return {
        "campaign": point.campaign_id,
        "issue": point.issue,
        "created_at": shown(point.created_at, zone),
        "on_list": point.on_list,
        "sent": point.outcomes.sent,
        "rates": {r.name: r.as_dict() for r in deliverability.rates(limits, point.outcomes)},
    }


def _events(campaign: CampaignRecord, events: dict[str, int]) -> dict[str, int]:
    """Webhook counts: delivered, opened and clicked always shown for SendGrid (0 until its webhook
    reports any); none for an outbox or SMTP campaign, whose counts could never arrive (tests/test_campaign.py)."""
    if campaign.provider == "sendgrid":
        return {"delivered": 0, "open": 0, "click": 0} | events
    return events


def _describe(c: CampaignRecord, zone: dt.tzinfo, now: dt.datetime, book: ApprovalBook) -> dict[str, Any]:
    approval = book.get(c.approval_id) if c.approval_id is not None else None
    described: dict[str, Any] = {
        "id": c.id,
        "issue": c.issue,
        "kind": c.kind,
        "subject": c.subject,
        "provider": c.provider,
        "created_at": shown(c.created_at, zone),
        "topics": list(c.topics),
        "language": c.language,
        "approval": None
        if approval is None
        else {
            "reviewer": approval.reviewer,
            "reviewer_name": approval.reviewer_name,
            "approved_at": shown(approval.approved_at, zone),
            "hash": approval.hash,
            "given": approval.given,
            "note": approval.note,
        },
    }
    if c.scheduled_at is not None:
        described["scheduled_at"] = c.scheduled_at.isoformat()
        described["cancelled_at"] = c.cancelled_at.isoformat() if c.cancelled_at else None
        described["schedule"] = schedule_state(c, zone, now)
    return described


def schedule_state(c: CampaignRecord, zone: dt.tzinfo, now: dt.datetime) -> str:
    """`scheduled for …`, `sent at … (scheduled)` or `cancelled at … (was scheduled for …)`, in `zone`."""
    assert c.scheduled_at is not None
    when = shown(c.scheduled_at, zone)
    if c.cancelled_at is not None:
        return f"cancelled at {shown(c.cancelled_at, zone)} (was scheduled for {when})"
    if c.scheduled_at > now:
        return f"scheduled for {when}"
    return f"went out at {when} (scheduled)"


def list_campaigns(
    store: SubscriberStore, zone: dt.tzinfo = dt.UTC, now: dt.datetime | None = None
) -> list[dict[str, Any]]:
    """Every campaign, newest first, with its ledger counts and whether it is finished."""
    at = now or dt.datetime.now(dt.UTC)
    campaigns = CampaignLedger.for_store(store).campaigns()
    replies = store.reply_figures(c.id for c, _ in campaigns)
    book = ApprovalBook.for_store(store)
    return [
        _describe(c, zone, at, book)
        | {"ledger": counts, "finished": is_finished(counts), "replies": replies[c.id]}
        for c, counts in campaigns
    ]
