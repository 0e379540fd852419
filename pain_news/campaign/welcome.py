"""The welcome email: one per new subscriber, sent off the request path right after they confirm.

It is written like an issue (`templates/welcome/`: issue.toml and markdown pieces), checked and
built by the same pipeline, and sent as a campaign of kind `welcome` through the configured
provider. The campaign holds the frozen copy; each confirmed subscriber gains one ledger row,
never a second in any welcome campaign (CampaignLedger.add_welcome_recipient), so a repeated
confirmation is harmless. Delivery is the list send's runner: exactly once, recorded like any
send, and `report --campaign N` shows it. A new campaign starts when the folder's text changes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pain_news import delivery
from pain_news.campaign import PreparedSend, SendOptions, SendPlan, run_send
from pain_news.campaign.gates import checked_build
from pain_news.ledger import CampaignLedger, NewCampaign
from pain_news.vocab import CAMPAIGN_WELCOME

if TYPE_CHECKING:
    from pain_news.campaign import SendReport
    from pain_news.config.settings import Config
    from pain_news.ledger import CampaignLedger
    from pain_news.subscribers.store import SubscriberStore

WELCOME_ISSUE = "welcome"  # the `issue` of every welcome campaign


def welcome_dir(config: Config) -> Path:
    """`templates/welcome/` (under build.templates)."""
    return config.welcome_dir


@dataclass(frozen=True)
class WelcomeCopy:
    """The built welcome email, placeholders still in it."""

    subject: str
    html: str
    text: str


def build_welcome(config: Config) -> WelcomeCopy | None:
    """Check and build the welcome folder; None when the project has none (no welcome is sent).

    CheckFailed when it has errors: the same rules as a list send.
    """
    folder = welcome_dir(config)
    if not (folder / "issue.toml").is_file():
        return None

    result = checked_build(config, folder)
    return WelcomeCopy(result.issue.subject, result.rendered.email_html, result.rendered.email_text)


def welcome_campaign(config: Config, ledger: CampaignLedger, copy: WelcomeCopy) -> int:
    """The welcome campaign holding this copy: the newest one when its text is the same, else a new one."""

    newest = ledger.latest(WELCOME_ISSUE, kind=CAMPAIGN_WELCOME)
    if newest is not None and (newest.subject, newest.html, newest.text) == (
        copy.subject,
        copy.html,
        copy.text,
    ):
        return newest.id
    created = ledger.create(
        NewCampaign(
            issue=WELCOME_ISSUE,
            subject=copy.subject,
            provider=config.delivery.provider,
            html=copy.html,
            text=copy.text,
            seen_campaign_id=newest.id if newest else None,
            kind=CAMPAIGN_WELCOME,
        )
    )
    campaign_id = created.campaign_id or created.newest  # another process made it meanwhile: use that
    assert campaign_id is not None
    return campaign_id


def send_welcome(
    config: Config, store: SubscriberStore, subscriber_id: int, now: dt.datetime | None = None
) -> SendReport | None:
    """Welcome one confirmed subscriber, once ever; None when there is nothing to send.

    The row is written before the provider is called, and the send is the runner's: pending rows
    left by an earlier failure go out with this one.
    """

    copy = build_welcome(config)
    if copy is None:
        return None
    ledger = CampaignLedger.for_store(store)
    campaign_id = welcome_campaign(config, ledger, copy)
    if not ledger.add_welcome_recipient(campaign_id, subscriber_id, now or dt.datetime.now(dt.UTC)):
        return None  # welcomed before (or no such subscriber)
    return deliver_welcomes(config, store, campaign_id)


def deliver_welcomes(config: Config, store: SubscriberStore, campaign_id: int) -> SendReport:
    """Send the welcome campaign's pending rows through the configured provider (one worker thread)."""

    record = CampaignLedger.for_store(store).get(campaign_id)
    assert record is not None
    message = delivery.message_from_config(
        config, record.subject, record.html, record.text, list_message=True
    )
    plan = SendPlan(
        issue=WELCOME_ISSUE,
        subject=record.subject,
        provider=config.delivery.provider,
        sender=message.from_email,
        to_send=0,
        opted_out=0,
        not_confirmed=0,
        campaign_id=campaign_id,
    )
    prepared = PreparedSend(
        plan=plan,
        message=message,
        issue=WELCOME_ISSUE,
        provider=config.delivery.provider,
        campaign_id=campaign_id,
        options=SendOptions(threads=1),
    )
    return run_send(config, store, prepared)
