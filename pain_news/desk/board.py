"""The issues list: every issue folder with where it stands (draft, checked, approved, scheduled, sent)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pain_news.checks.run import checked_render
from pain_news.errors import PainNewsError
from pain_news.ledger import CampaignLedger, CampaignRecord, is_finished
from pain_news.signoff.approve import approval_status
from pain_news.vocab import LEDGER_FAILED, LEDGER_SENT, LEDGER_UNCERTAIN

if TYPE_CHECKING:
    from pain_news.config.settings import Config
    from pain_news.subscribers.store import SubscriberStore


@dataclass(frozen=True)
class IssueState:
    """One row of the issues list."""

    name: str
    folder: Path
    state: str  # draft, checked, approved, scheduled, sending, sent
    detail: str  # the figures or the reason, in a few words
    campaign_id: int | None = None


def issue_folders(config: Config) -> list[Path]:
    """Every folder under build.issues holding an issue.toml, newest name first."""
    root = config.resolve(config.build.issues)
    if not root.is_dir():
        return []
    return sorted((p for p in root.iterdir() if (p / "issue.toml").is_file()), reverse=True)


def issue_states(config: Config, store: SubscriberStore, now: dt.datetime) -> list[IssueState]:
    """Where each issue stands, from its newest campaign, else its check and sign-off."""
    return [issue_state(config, store, folder, now) for folder in issue_folders(config)]


def is_scheduled(campaign: CampaignRecord | None, now: dt.datetime) -> bool:
    """A campaign handed to SendGrid for a time still to come, and not cancelled."""
    if campaign is None or campaign.scheduled_at is None or campaign.cancelled_at is not None:
        return False
    return campaign.scheduled_at > now


def issue_state(config: Config, store: SubscriberStore, folder: Path, now: dt.datetime) -> IssueState:
    """Sent or scheduled from the ledger; otherwise approved, checked or draft from the same check,
    build and sign-off status a send looks at."""
    ledger = CampaignLedger.for_store(store)
    campaign = ledger.latest(folder.name)
    if campaign is not None:
        counts = ledger.counts(campaign.id)
        figures = (
            f"sent {counts.get(LEDGER_SENT, 0)}, failed {counts.get(LEDGER_FAILED, 0)}, "
            f"uncertain {counts.get(LEDGER_UNCERTAIN, 0)}"
        )
        if is_scheduled(campaign, now):
            return IssueState(folder.name, folder, "scheduled", figures, campaign.id)
        state = "sent" if is_finished(counts) else "sending"
        return IssueState(folder.name, folder, state, figures, campaign.id)
    try:
        issue, rendered, report = checked_render(config, folder, force=True)
    except PainNewsError as exc:
        return IssueState(folder.name, folder, "draft", f"does not build: {exc.message}")
    if report.errors:
        n = len(report.errors)
        return IssueState(folder.name, folder, "draft", f"{n} check error{'s' * (n != 1)} to fix")
    if approval_status(config, store, folder, (issue, rendered)).approved:
        return IssueState(folder.name, folder, "approved", "ready to send")
    detail = "draft = true in issue.toml" if issue.draft else "waiting for a reviewer's approval"
    return IssueState(folder.name, folder, "draft" if issue.draft else "checked", detail)
