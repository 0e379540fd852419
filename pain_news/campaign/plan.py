"""Planning a list send: run the gates, pick the campaign to create or resume, and describe it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from pain_news.campaign import canary, schedule
from pain_news.campaign.editions import (
    EditionCounts,
    EditionMessage,
    built_editions,
    frozen_editions,
    list_message,
    to_send_per_edition,
)
from pain_news.campaign.gates import SendRequest, gated_build
from pain_news.campaign.locks import run_lock
from pain_news.campaign.options import SendOptions
from pain_news.campaign.summary import SendPlan, states_line
from pain_news.config.clock import clinic_zone, shown
from pain_news.config.topics import normalize_topics
from pain_news.delivery.base import OutgoingMessage
from pain_news.errors import ConfigError, DeliveryError, TopicError
from pain_news.ledger import CampaignLedger, CampaignRecord, is_finished
from pain_news.signoff.approve import approval_status
from pain_news.vocab import (
    ACTIVE,
    LEDGER_FAILED,
    LEDGER_IN_FLIGHT,
    LEDGER_PENDING,
    LEDGER_UNCERTAIN,
    LEDGER_WAITING,
    OPTED_OUT,
    PENDING,
)

if TYPE_CHECKING:
    from collections import Counter

    from pain_news.config.settings import Config
    from pain_news.publish.build import BuildResult
    from pain_news.subscribers.store import SubscriberStore


@dataclass(frozen=True, kw_only=True)
class PreparedSend:
    """Everything decided before confirmation: the frozen content, the campaign (if any) and the plan."""

    plan: SendPlan
    message: OutgoingMessage
    issue: str
    provider: str
    campaign_id: int | None  # None: the run creates the campaign
    options: SendOptions
    seen_campaign_id: int | None = None  # the issue's newest campaign when prepared (None: none yet)
    topics: tuple[str, ...] = ()  # the campaign's targeted topics; () = the whole list
    schedule: schedule.Schedule | None = None  # send_at and batch for every request
    approval_id: int | None = None  # the approval of this version a new campaign records (signoff/)
    canary_size: int = 0  # a new campaign sends this many first and holds the rest (campaign/canary.py)
    release: bool = False  # this run lets the campaign's held or paused recipients go
    language: str = "en"  # the default edition's language (`message`)
    editions: tuple[EditionMessage, ...] = ()  # the other editions (docs/sending.md#editions)


def prepare_send(
    config: Config, store: SubscriberStore, issue_dir: Path, options: SendOptions
) -> PreparedSend:
    """Run the gates and build, pick the campaign to create or resume, and describe the send.

    Every gate is run before anything else (pain_news/campaign/gates.py): a refusal leaves no
    campaign behind and sends nothing, and lists every gate that refuses."""
    request = SendRequest(config=config, issue_dir=issue_dir, options=options, store=store)
    provider = request.provider
    schedule.for_new(
        options.at, provider, dt.datetime.now(dt.UTC), clinic_zone(config)
    )  # refuse a bad --at before the build
    prepared = _prepare(config, store, options, provider, gated_build(request))
    return replace(prepared, plan=replace(prepared.plan, warnings=tuple(request.warnings)))


def _prepare(
    config: Config,
    store: SubscriberStore,
    options: SendOptions,
    provider: str,
    result: BuildResult,
) -> PreparedSend:
    """Pick the campaign to create or resume for the gated build, and describe the send."""
    if provider == "sendgrid":
        # lazy: the sendgrid package loads only for a SendGrid send
        from pain_news.sendgrid.sync import sync_suppressions

        # SendGrid's suppressions become opt-outs here first, with the send's own retry policy.
        sync_suppressions(config, store, attempts=options.max_attempts, base=options.backoff_base)
    ledger = CampaignLedger.for_store(store)
    issue = result.issue.slug
    existing = ledger.latest(issue)
    schedule.refuse_cancelled(existing, options.new_campaign)
    if existing is None or _chooses_new(ledger, existing, options):
        when = schedule.for_new(options.at, provider, dt.datetime.now(dt.UTC), clinic_zone(config))
        topics = _targeted_topics(config, options.topics or result.issue.topics)
        counts = ledger.audience_counts(topics)
        size = canary.canary_size(config, ledger, options, provider, counts[ACTIVE])
        r = result.rendered
        message = list_message(config, result.issue.subject, r.email_html, r.email_text)
        editions = built_editions(config, result)
        per_edition = EditionCounts.of(
            result.issue.language, tuple(e.language for e in editions), ledger.active_per_language(topics)
        )
        per_topic = ledger.active_per_topic(topics) if topics else {}
        plan = _plan(
            message,
            counts,
            SendPlan(
                issue=issue,
                provider=provider,
                to_send=size or counts[ACTIVE],
                campaign_id=None,
                per_topic=per_topic,
                topics=tuple(per_topic),
                notes=canary.plan_notes(config, options, size, counts[ACTIVE]),
                editions=per_edition,
            ),
        )
        approval = approval_status(config, store, result.issue.folder, (result.issue, result.rendered))
        return _scheduled(
            config,
            PreparedSend(
                plan=plan,
                message=message,
                issue=issue,
                provider=provider,
                campaign_id=None,
                options=options,
                seen_campaign_id=existing.id if existing else None,
                topics=topics,
                approval_id=approval.approval.id if approval.approval else None,
                canary_size=size,
                language=result.issue.language,
                editions=editions,
            ),
            when,
        )
    if options.topics and tuple(sorted(set(options.topics))) != existing.topics:
        raise DeliveryError(
            f"campaign {existing.id} of {existing.issue} targets "
            f"{', '.join(existing.topics) or 'the whole list'}; --topic cannot change an unfinished campaign",
            hint="run send without --topic to resume it",
        )
    counts = ledger.audience_counts(existing.topics)
    resumed = _resume(config, ledger, existing, provider, counts, options)
    return _scheduled(
        config, resumed, schedule.for_resume(options.at, existing, provider, clinic_zone(config))
    )


def _scheduled(config: Config, prepared: PreparedSend, when: schedule.Schedule | None) -> PreparedSend:
    """The prepared send with its schedule, and the plan's line saying when it goes out."""
    if when is None:
        return prepared
    line = schedule.plan_line(when, config, dt.datetime.now(dt.UTC))
    plan = replace(prepared.plan, notes=(line, *prepared.plan.notes))
    return replace(prepared, plan=plan, schedule=when)


def _targeted_topics(config: Config, topics: tuple[str, ...]) -> tuple[str, ...]:
    """The topics a new campaign targets, sorted; every one must be a key of [topics]."""
    try:
        return normalize_topics(topics, config.topic_keys)
    except TopicError as exc:
        raise ConfigError(exc.message, path=config.path, hint=exc.hint) from None


def _resume(
    config: Config,
    ledger: CampaignLedger,
    existing: CampaignRecord,
    provider: str,
    counts: Counter[str],
    options: SendOptions,
) -> PreparedSend:
    """Resume `existing` with its frozen copy; the plan counts who this run will try."""
    if options.canary is not None:
        raise DeliveryError(
            f"--canary starts a new campaign, and campaign {existing.id} of {existing.issue} is not finished",
            hint="run send without --canary to resume it",
        )
    with run_lock(ledger, existing.id):  # refuse before the confirmation, not only when the run starts
        states = ledger.counts(existing.id)
        per_language = ledger.counts_by_language(existing.id, existing.language)
    release, notes = canary.release_waiting(
        config, ledger, existing.id, states, provider, options, dt.datetime.now(dt.UTC)
    )
    wanted: tuple[str, ...] = (LEDGER_PENDING, *(LEDGER_WAITING if release else ()))
    if options.resend_uncertain:  # rows left in flight become uncertain first, then pending again
        wanted += (LEDGER_UNCERTAIN, LEDGER_IN_FLIGHT)
    if options.retry_failed:
        wanted += (LEDGER_FAILED,)
    to_send = sum(states[s] for s in wanted)
    editions = frozen_editions(config, ledger.editions(existing.id))
    per_edition = to_send_per_edition(per_language, wanted)
    if states[LEDGER_IN_FLIGHT]:
        notes.append(
            f"{states[LEDGER_IN_FLIGHT]} were in flight when the last run stopped: they become uncertain"
        )
    if existing.provider != provider:
        notes.append(
            f"note: campaign {existing.id} started with {existing.provider}; continuing with {provider}"
        )
    message = list_message(config, existing.subject, existing.html, existing.text)
    notes.append(
        f"resuming: readers get the email exactly as it was when this send started "
        f"({shown(existing.created_at, clinic_zone(config))}); edits made since then are not in it"
    )
    plan = _plan(
        message,
        counts,
        SendPlan(
            issue=existing.issue,
            provider=provider,
            to_send=to_send,
            campaign_id=existing.id,
            ledger=dict(states),
            notes=tuple(notes),
            topics=existing.topics,
            editions=EditionCounts(
                default=existing.language,
                per_edition={
                    lang: per_edition[lang] for lang in (existing.language, *(e.language for e in editions))
                },
            ),
        ),
    )
    return PreparedSend(
        plan=plan,
        message=message,
        issue=existing.issue,
        provider=provider,
        campaign_id=existing.id,
        options=options,
        seen_campaign_id=existing.id,
        topics=existing.topics,
        release=release,
        language=existing.language,
        editions=editions,
    )


def _plan(message: OutgoingMessage, counts: Counter[str], plan: SendPlan) -> SendPlan:
    """`plan` with what the frozen message (subject, sender) and the audience counts tell."""
    sender = f"{message.from_name} <{message.from_email}>" if message.from_name else message.from_email
    return replace(
        plan,
        subject=message.subject,
        sender=sender,
        opted_out=sum(counts[s] for s in OPTED_OUT),
        not_confirmed=counts[PENDING],
    )


def _chooses_new(ledger: CampaignLedger, existing: CampaignRecord, options: SendOptions) -> bool:
    """Whether this run starts a new campaign; refuses to silently resend a finished one."""
    states = ledger.counts(existing.id)
    finished = is_finished(states)
    if options.new_campaign:
        if not finished:
            raise DeliveryError(
                f"campaign {existing.id} of {existing.issue} is not finished ({states_line(states)})",
                hint="run send without --new-campaign to resume it first",
            )
        return True
    if (
        finished
        and not (options.retry_failed and states[LEDGER_FAILED])
        and not (options.resend_uncertain and states[LEDGER_UNCERTAIN])
    ):
        raise DeliveryError(
            f"campaign {existing.id} of {existing.issue} is finished ({states_line(states)}); nothing to send",
            hint="--retry-failed or --resend-uncertain send to those recipients; --new-campaign sends the issue to everyone again",
        )
    return False
