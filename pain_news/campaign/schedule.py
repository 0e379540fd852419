"""Scheduled sends (`send --at`, `send --cancel`) through SendGrid's send_at and mail batches.

Exactly once still holds (docs/design/send-ledger.md): a row is `sent` when SendGrid accepted it
with its send_at. The batch id is created before the campaign and stored with it, so every
request of the campaign — a resumed run's too — carries the same batch_id and send_at, and
`--cancel` reaches all of them. A cancel moves the campaign's accepted and pending rows to
`cancelled` in one transaction after SendGrid confirmed it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from pain_news.campaign.locks import run_lock
from pain_news.config.clock import as_utc, clinic_zone, shown
from pain_news.errors import NotFound, ScheduleError
from pain_news.ledger import CampaignLedger, CampaignRecord

if TYPE_CHECKING:
    from pain_news.config.settings import Config
    from pain_news.delivery.base import OutgoingMessage, Provider
    from pain_news.subscribers.store import SubscriberStore

MAX_AHEAD = dt.timedelta(hours=72)  # SendGrid schedules at most 72 hours in advance
CANCEL_DEADLINE = dt.timedelta(minutes=10)  # SendGrid takes no cancel later than this before send_at


@dataclass(frozen=True)
class Schedule:
    """When a campaign goes out (UTC) and its SendGrid batch (None until the run creates it)."""

    send_at: dt.datetime
    batch_id: str | None = None
    # The unsubscribe group the requests carry (None: none): where a later opt-out is suppressed.
    asm_group_id: int | None = None

    @property
    def unix(self) -> int:
        return int(self.send_at.timestamp())


def refuse_cancelled(existing: CampaignRecord | None, new_campaign: bool) -> None:
    """A cancelled campaign is closed: only --new-campaign sends the issue again."""
    if existing is not None and existing.cancelled_at is not None and not new_campaign:
        raise ScheduleError(
            f"campaign {existing.id} of {existing.issue} was cancelled; nothing to resume",
            hint="--new-campaign sends the issue again (with --at to schedule it)",
        )


def for_new(
    at: dt.datetime | None, provider: str, now: dt.datetime, zone: dt.tzinfo = dt.UTC
) -> Schedule | None:
    """A new campaign's schedule from --at: SendGrid only, in the future, at most 72 hours ahead."""
    if at is None:
        return None
    _needs_sendgrid(provider)
    check_window(as_utc(at), now, zone)
    return Schedule(as_utc(at))


def for_resume(
    at: dt.datetime | None, existing: CampaignRecord, provider: str, zone: dt.tzinfo = dt.UTC
) -> Schedule | None:
    """A resumed campaign keeps the time and batch it started with (a crash changes neither)."""
    if existing.scheduled_at is None:
        if at is not None:
            raise ScheduleError(
                f"campaign {existing.id} of {existing.issue} already started without a time; "
                "--at cannot schedule the rest",
                hint="run send without --at to finish it",
            )
        return None
    if at is not None and as_utc(at) != existing.scheduled_at:
        raise ScheduleError(
            f"campaign {existing.id} of {existing.issue} is scheduled for "
            f"{shown(existing.scheduled_at, zone)}; a resumed send keeps its time",
            hint="run send without --at to finish it, or send --cancel first",
        )
    _needs_sendgrid(provider)
    return Schedule(existing.scheduled_at, existing.batch_id)


def _needs_sendgrid(provider: str) -> None:
    if provider != "sendgrid":
        raise ScheduleError(
            f"--at needs the sendgrid provider; {provider} delivers at once and cannot hold mail until a time",
            hint="send with --provider sendgrid, or run send without --at at the time you want",
        )


def check_window(send_at: dt.datetime, now: dt.datetime, zone: dt.tzinfo = dt.UTC) -> None:
    """Refuse a time in the past or more than 72 hours ahead (SendGrid's limit); times shown in `zone`."""
    if send_at <= now:
        raise ScheduleError(
            f"--at {shown(send_at, zone)} is in the past (now {shown(now, zone)}); nothing was sent",
            hint="give a later time, or send without --at to send now",
        )
    if send_at - now > MAX_AHEAD:
        raise ScheduleError(
            f"--at {shown(send_at, zone)} is more than 72 hours ahead; SendGrid schedules at most "
            "72 hours in advance, so nothing was sent",
            hint=f"run the same send --at within 72 hours of that time (from {shown(send_at - MAX_AHEAD, zone)})",
        )


def with_batch(
    schedule: Schedule, provider: Provider, now: dt.datetime, zone: dt.tzinfo = dt.UTC
) -> Schedule:
    """The schedule with a new SendGrid batch id — made once, before the campaign is created."""
    from pain_news.delivery.sendgrid import SendgridProvider

    if schedule.batch_id is not None:
        return schedule
    if not isinstance(provider, SendgridProvider):
        _needs_sendgrid(provider.name)
        raise AssertionError("unreachable")
    check_window(schedule.send_at, now, zone)  # the prompt may have waited past the time
    group = provider.settings.asm_group_id or None
    return replace(schedule, batch_id=provider.create_batch(), asm_group_id=group)


def scheduled_message(message: OutgoingMessage, schedule: Schedule | None) -> OutgoingMessage:
    """`message` carrying send_at and batch_id on every request when the send is scheduled."""
    if schedule is None:
        return message
    return replace(message, send_at=schedule.unix, batch_id=schedule.batch_id)


def when_text(schedule: Schedule, config: Config) -> str:
    """`2026-12-03 09:00 EST`: the time in the clinic's zone (every time a person reads is shown there)."""
    return shown(schedule.send_at, clinic_zone(config))


def plan_line(schedule: Schedule, config: Config, now: dt.datetime) -> str:
    """The plan's line about the time."""
    when = when_text(schedule, config)
    if schedule.send_at <= now:
        return f"Scheduled:  {when} — that time has passed: SendGrid delivers the rest at once"
    return f"Scheduled:  {when}; SendGrid holds the messages until then (send --cancel cancels them)"


@dataclass(frozen=True, kw_only=True)
class Cancelled:
    """The outcome of `send --cancel`."""

    campaign: CampaignRecord
    ledger: dict[str, int]
    when: str  # the scheduled time, as the clinic reads it

    def lines(self) -> list[str]:
        n = self.ledger.get("cancelled", 0)
        return [
            f"Campaign {self.campaign.id} of {self.campaign.issue}, scheduled for {self.when}, is cancelled: "
            f"SendGrid discards its {n} messages; nobody on the list receives it."
        ]


def cancel_send(config: Config, store: SubscriberStore, issue: str, now: dt.datetime) -> Cancelled:
    """Cancel the issue's scheduled campaign at SendGrid, then record it (cancelled_at, rows `cancelled`)."""
    from pain_news import delivery

    ledger = CampaignLedger.for_store(store)
    campaign = ledger.latest(issue)
    if campaign is None:
        raise NotFound(f"no campaign for issue {issue!r}", hint="'pain-news campaigns' lists them")
    when = shown(campaign.scheduled_at, clinic_zone(config)) if campaign.scheduled_at else ""
    if campaign.scheduled_at is None or campaign.batch_id is None:
        raise ScheduleError(
            f"campaign {campaign.id} of {issue} was not scheduled (sent without --at): there is nothing to cancel"
        )
    if campaign.cancelled_at is not None:
        return Cancelled(campaign=campaign, ledger=ledger.counts(campaign.id), when=when)
    if now >= campaign.scheduled_at:
        raise ScheduleError(
            f"campaign {campaign.id} of {issue} went out at {when}: too late to cancel",
        )
    if now > campaign.scheduled_at - CANCEL_DEADLINE:
        raise ScheduleError(
            f"campaign {campaign.id} of {issue} goes out at {when}: SendGrid takes no cancel in the last "
            "10 minutes before the time",
        )
    with run_lock(ledger, campaign.id):  # no run may add requests to the batch meanwhile
        provider = delivery.get_provider(config, "sendgrid")
        try:
            from pain_news.delivery.sendgrid import SendgridProvider

            assert isinstance(provider, SendgridProvider)
            for batch_id in ledger.cancelled_batches(before=now):  # frees SendGrid's 10 statuses
                provider.release_batch(batch_id)
            provider.cancel_batch(campaign.batch_id)
        finally:
            provider.close()
        counts = ledger.mark_cancelled(campaign.id, now)
    found = ledger.get(campaign.id)
    return Cancelled(campaign=found or campaign, ledger=counts, when=when)
