"""What came back from a campaign, as counts the thresholds are measured on: the canary check, the
circuit breaker and `report`'s rates, timeline and history (campaign/deliverability.py judges them).

A recipient counts once per figure however many events name them. Messages sent are those the
provider accepted or refused at once (ledger `sent` and `failed`). Bounces are the refused ones
(an SMTP 550 is a bounce said at once), SendGrid's bounce events (hard bounces and blocks alike)
and the bounce reports that came back by mail (pain_news/inbound/); complaints are spam reports; unsubscribes are opt-outs attributed to the campaign
(the link, one-click, the webhook, a reply asking to stop).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, func, select

from pain_news.config.clock import as_utc
from pain_news.db import store_errors
from pain_news.db.models import Campaign, DeliveryEvent, LedgerEntry, ReplyEvent, SubscriberEvent
from pain_news.vocab import (
    CAMPAIGN_ISSUE,
    LEDGER_FAILED,
    LEDGER_IN_FLIGHT,
    LEDGER_PENDING,
    LEDGER_SENT,
    LEDGER_SKIPPED,
    LEDGER_WAITING,
    REPLY_BOUNCE,
    UNSUBSCRIBED,
)

BOUNCE_EVENTS = ("bounce",)  # SendGrid's bounce event, of type "bounce" or "blocked"
COMPLAINT_EVENTS = ("spamreport",)
UNSUBSCRIBE_EVENTS = ("unsubscribe", "group_unsubscribe")
TIMELINE_SERIES = ("sent", "delivered", "bounces", "complaints", "unsubscribes")


@dataclass(frozen=True, kw_only=True)
class Outcomes:
    """One campaign's sent count and the distinct recipients behind each kind of trouble."""

    sent: int  # messages handed to the provider: accepted, or refused at once (`failed`)
    bounces: int  # bounce and block events, bounce reports by mail, and the refused
    complaints: int
    unsubscribes: int
    refused: int = 0  # of `bounces`: recipients the provider refused at once (ledger `failed`)
    bounces_by_mail: int = 0  # of `bounces`: the reports that came back by mail (SMTP's only feed)
    last_settled: dt.datetime | None = None  # when the newest sent/failed/uncertain row was written


@dataclass(frozen=True, kw_only=True)
class CampaignPoint:
    """One campaign in the history across campaigns: when, how big the list was, what came back."""

    campaign_id: int
    issue: str
    created_at: dt.datetime
    on_list: int  # ledger rows: everyone the campaign considered (the list's size at that send)
    outcomes: Outcomes


class CampaignHealth:
    """Reads the figures above; every method is one read on the reader engine."""

    def __init__(self, reader: Engine) -> None:
        self.reader = reader

    def outcomes(self, campaign_id: int) -> Outcomes:
        """The campaign's sent count and its bounces, complaints and unsubscribes (distinct recipients)."""
        return self.outcomes_of([campaign_id])[campaign_id]

    def outcomes_of(self, campaign_ids: Iterable[int]) -> dict[int, Outcomes]:
        """`outcomes` for several campaigns at once (a handful of queries, whatever the number)."""
        ids = sorted(set(campaign_ids))
        who: dict[tuple[int, str], set[str]] = {}
        with store_errors(), self.reader.connect() as conn:
            handed: dict[tuple[int, str], int] = {
                (cid, state): int(n)
                for cid, state, n in conn.execute(
                    select(LedgerEntry.campaign_id, LedgerEntry.state, func.count())
                    .where(
                        LedgerEntry.campaign_id.in_(ids), LedgerEntry.state.in_((LEDGER_SENT, LEDGER_FAILED))
                    )
                    .group_by(LedgerEntry.campaign_id, LedgerEntry.state)
                )
            }
            settled = dict(
                conn.execute(
                    select(LedgerEntry.campaign_id, func.max(LedgerEntry.updated_at))
                    .where(
                        LedgerEntry.campaign_id.in_(ids),
                        LedgerEntry.state.not_in(
                            (LEDGER_PENDING, LEDGER_IN_FLIGHT, LEDGER_SKIPPED, *LEDGER_WAITING)
                        ),
                    )
                    .group_by(LedgerEntry.campaign_id)
                ).all()
            )
            for cid, kind, person in _trouble(conn, ids):
                who.setdefault((cid, kind), set()).add(person)
        return {
            cid: Outcomes(
                sent=handed.get((cid, LEDGER_SENT), 0) + handed.get((cid, LEDGER_FAILED), 0),
                bounces=len(who.get((cid, "bounces"), ())) + handed.get((cid, LEDGER_FAILED), 0),
                refused=handed.get((cid, LEDGER_FAILED), 0),
                complaints=len(who.get((cid, "complaints"), ())),
                unsubscribes=len(who.get((cid, "unsubscribes"), ())),
                bounces_by_mail=len(who.get((cid, "by_mail"), ())),
                last_settled=as_utc(settled.get(cid)),
            )
            for cid in ids
        }

    def history(self) -> list[CampaignPoint]:
        """Every issue campaign, oldest first, with its list size and outcomes."""
        with store_errors(), self.reader.connect() as conn:
            campaigns = conn.execute(
                select(Campaign.id, Campaign.issue, Campaign.created_at)
                .where(Campaign.kind == CAMPAIGN_ISSUE)
                .order_by(Campaign.id)
            ).all()
            sizes = dict(
                conn.execute(
                    select(LedgerEntry.campaign_id, func.count()).group_by(LedgerEntry.campaign_id)
                ).all()
            )
        outcomes = self.outcomes_of(cid for cid, _, _ in campaigns)
        return [
            CampaignPoint(
                campaign_id=cid,
                issue=issue,
                created_at=as_utc(created),
                on_list=int(sizes.get(cid, 0)),
                outcomes=outcomes[cid],
            )
            for cid, issue, created in campaigns
        ]

    def timeline(self, campaign_id: int) -> list[tuple[str, dt.datetime]]:
        """(series, when) for every send, delivery, bounce, complaint and unsubscribe of the campaign,
        oldest first; `report` counts them per hour (series: TIMELINE_SERIES)."""
        with store_errors(), self.reader.connect() as conn:
            rows: list[tuple[str, Any]] = [
                ("sent", at)
                for (at,) in conn.execute(
                    select(LedgerEntry.updated_at).where(
                        LedgerEntry.campaign_id == campaign_id, LedgerEntry.state == LEDGER_SENT
                    )
                )
            ]
            kinds = {"delivered": ("delivered",), "bounces": BOUNCE_EVENTS, "complaints": COMPLAINT_EVENTS}
            for series, events in kinds.items():
                rows += [
                    (series, at)
                    for (at,) in conn.execute(
                        select(DeliveryEvent.occurred_at).where(
                            DeliveryEvent.campaign_id == campaign_id, DeliveryEvent.event.in_(events)
                        )
                    )
                ]
            rows += [
                ("bounces", at)
                for (at,) in conn.execute(
                    select(ReplyEvent.at).where(
                        ReplyEvent.campaign_id == campaign_id, ReplyEvent.action == REPLY_BOUNCE
                    )
                )
            ]
            rows += [
                ("unsubscribes", at)
                for (at,) in conn.execute(
                    select(SubscriberEvent.at).where(
                        SubscriberEvent.campaign_id == campaign_id, SubscriberEvent.new_status == UNSUBSCRIBED
                    )
                )
            ]
        found = [(series, as_utc(at)) for series, at in rows]
        return sorted((series, at) for series, at in found if at is not None)


def _trouble(conn: Any, ids: list[int]) -> Iterable[tuple[int, str, str]]:
    """(campaign, figure, who) for every bounce, complaint and unsubscribe; `who` is the subscriber id,
    or the event's own id when the address is not a subscriber (still one recipient)."""
    figures = {"bounces": BOUNCE_EVENTS, "complaints": COMPLAINT_EVENTS, "unsubscribes": UNSUBSCRIBE_EVENTS}
    for figure, events in figures.items():
        query = select(DeliveryEvent.campaign_id, DeliveryEvent.subscriber_id, DeliveryEvent.id).where(
            DeliveryEvent.campaign_id.in_(ids), DeliveryEvent.event.in_(events)
        )
        for cid, sid, eid in conn.execute(query):
            yield cid, figure, f"s{sid}" if sid is not None else f"e{eid}"
    by_mail = select(ReplyEvent.campaign_id, ReplyEvent.subscriber_id, ReplyEvent.id).where(
        ReplyEvent.campaign_id.in_(ids), ReplyEvent.action == REPLY_BOUNCE
    )
    for cid, sid, rid in conn.execute(by_mail):
        who = f"s{sid}" if sid is not None else f"r{rid}"
        yield cid, "bounces", who
        yield cid, "by_mail", who
    opted_out = select(SubscriberEvent.campaign_id, SubscriberEvent.subscriber_id).where(
        SubscriberEvent.campaign_id.in_(ids), SubscriberEvent.new_status == UNSUBSCRIBED
    )
    for cid, sid in conn.execute(opted_out):
        yield cid, "unsubscribes", f"s{sid}"
