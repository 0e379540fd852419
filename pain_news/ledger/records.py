"""Plain values the ledger hands out and takes in, and the one definition of "finished"."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from pain_news.config.clock import as_utc
from pain_news.db.models import Campaign
from pain_news.vocab import CAMPAIGN_ISSUE, LEDGER_IN_FLIGHT, LEDGER_PENDING, LEDGER_STATES, LEDGER_WAITING


def is_finished(counts: Mapping[str, int]) -> bool:
    """A campaign is finished when nobody is left pending, in flight, or waiting for the canary's
    check or a paused send's resume (the one definition)."""
    unsettled = (LEDGER_PENDING, LEDGER_IN_FLIGHT, *LEDGER_WAITING)
    return not any(counts.get(state) for state in unsettled)


@dataclass(frozen=True, kw_only=True)
class CampaignRecord:
    """One campaign and its frozen copy (what every batch of it sends)."""

    id: int
    issue: str  # issue folder name
    subject: str
    provider: str
    html: str
    text: str
    created_at: dt.datetime
    topics: tuple[str, ...] = ()  # the topics it targeted; () = the whole list
    kind: str = CAMPAIGN_ISSUE  # issue | welcome
    scheduled_at: dt.datetime | None = None  # SendGrid's send_at for every request (UTC)
    batch_id: str | None = None  # SendGrid's mail batch: what --cancel cancels
    cancelled_at: dt.datetime | None = None
    approval_id: int | None = None  # the sign-off it went out under (pain_news/signoff/)
    language: str = "en"  # the language of subject, html and text: the default edition

    @classmethod
    def of(cls, c: Campaign) -> CampaignRecord:
        return cls(
            id=c.id,
            issue=c.issue,
            subject=c.subject,
            provider=c.provider,
            html=c.html,
            text=c.text,
            topics=tuple(t for t in (c.topics or "").split(";") if t),
            created_at=as_utc(c.created_at),
            kind=c.kind,
            scheduled_at=as_utc(c.scheduled_at),
            batch_id=c.batch_id,
            cancelled_at=as_utc(c.cancelled_at),
            approval_id=c.approval_id,
            language=c.language,
        )


@dataclass(frozen=True, kw_only=True)
class FrozenEdition:
    """One more edition of a campaign's issue, frozen when the campaign was created."""

    language: str
    subject: str
    html: str
    text: str


@dataclass(frozen=True, kw_only=True)
class NewCampaign:
    """A campaign to create; `seen_campaign_id` is the issue's newest campaign when the send was planned."""

    issue: str
    subject: str
    provider: str
    html: str
    text: str
    seen_campaign_id: int | None
    topics: tuple[str, ...] = ()  # only subscribers who chose one of these; () = the whole list
    kind: str = CAMPAIGN_ISSUE
    scheduled_at: dt.datetime | None = None  # with batch_id: a scheduled send (campaign/schedule.py)
    batch_id: str | None = None
    asm_group_id: int | None = None  # the unsubscribe group its requests carry
    approval_id: int | None = None  # the approval of this exact version (pain_news/signoff/)
    language: str = "en"  # the default edition's language (subject, html, text)
    # The issue's other editions: a subscriber whose language is one of them gets it, anyone else
    # the default edition (the ledger row records which: queries.ledger_rows).
    editions: tuple[FrozenEdition, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Created:
    """The new campaign's id, or None when another send created `newest` since the plan (nothing written)."""

    campaign_id: int | None
    newest: int | None


class ClaimedEntry(NamedTuple):
    """One recipient of a claimed batch, with what personalising needs (a tuple: one per recipient, made fast)."""

    entry_id: int
    subscriber_id: int
    email: str
    first_name: str
    last_name: str


@dataclass(frozen=True, kw_only=True)
class Claim:
    """A batch now `in_flight` (possibly empty when all of it opted out), and how many were skipped."""

    entries: list[ClaimedEntry]
    attempts: int  # the highest attempt number in the batch, this one included
    skipped: int


class Outcome(NamedTuple):
    """What to record for one recipient: a ledger state, and the provider's message id or reason."""

    state: str
    message_id: str | None = None
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class CampaignFigures:
    """What `report` shows beside the counts: who failed or is uncertain, opt-outs, webhook events."""

    failed: list[tuple[str, str]]  # (address, reason)
    uncertain: list[str]
    opt_outs: dict[str, int]  # unsubscribed / bounced / complained attributed to the campaign
    events: dict[str, int]  # webhook events: distinct recipients per event type
    recipients: list[dict[str, Any]] | None


def all_states(found: Mapping[str, int]) -> dict[str, int]:
    return {state: found.get(state, 0) for state in LEDGER_STATES}
