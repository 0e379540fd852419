"""The welcome email: one per new subscriber, sent off the request path right after they confirm.

It is written like an issue (`templates/welcome/`: issue.toml and markdown pieces), checked and
rendered by the same pipeline, and sent as a campaign of kind `welcome` through the configured
provider. The campaign holds the frozen copy; each confirmed subscriber gains one ledger row,
never a second in any welcome campaign (CampaignLedger.add_welcome_recipient), so a repeated
confirmation is harmless. Delivery is the list send's runner: exactly once, recorded like any
send, and `report --campaign N` shows it. A new campaign starts when the folder's text changes.

The copy is rendered in memory, never written under build/: `serve --workers N` runs several
processes that confirm at once, and a shared build folder made them collide. A `Welcomer` renders
it again only when the template files change (tests/test_welcome.py), so the ledger row is written
as soon as someone confirms, before anything that could fail; a failed delivery leaves the row
pending, and the next delivery sends it (web/queues.py retries after a pause).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pain_news import delivery
from pain_news.campaign.plan import PreparedSend, SendOptions
from pain_news.campaign.runner import run_send
from pain_news.campaign.summary import SendPlan, SendReport
from pain_news.checks.run import checked_render
from pain_news.ledger import CampaignLedger, NewCampaign
from pain_news.vocab import CAMPAIGN_WELCOME

if TYPE_CHECKING:
    from pain_news.config.settings import Config
    from pain_news.subscribers.store import SubscriberStore

WELCOME_ISSUE = "welcome"  # the `issue` of every welcome campaign


def welcome_dir(config: Config) -> Path:
    """`templates/welcome/` (under build.templates)."""
    return config.welcome_dir


@dataclass(frozen=True)
class WelcomeCopy:
    """The rendered welcome email, placeholders still in it."""

    subject: str
    html: str
    text: str


def render_welcome(config: Config) -> WelcomeCopy | None:
    """Check and render the welcome folder in memory; None when the project has none (no welcome is sent).

    CheckFailed when it has errors: the same rules as a list send.
    """
    folder = welcome_dir(config)
    if not (folder / "issue.toml").is_file():
        return None
    issue, rendered, _ = checked_render(config, folder, refused="no welcome email sent")
    return WelcomeCopy(issue.subject, rendered.email_html, rendered.email_text)


def sources_key(config: Config) -> str:
    """A hash of every file under the templates folder (the welcome folder is inside it): what the copy is made of."""
    digest = hashlib.sha256()
    root = config.templates_dir
    for path in sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else []:
        data = path.read_bytes()
        digest.update(f"{path.relative_to(root).as_posix()}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


class Welcomer:
    """Welcomes for one config and store: the copy rendered once per change of its sources, kept in memory."""

    def __init__(self, config: Config, store: SubscriberStore, options: SendOptions | None = None) -> None:
        self.config, self.store = config, store
        self.options = options or SendOptions(threads=1)
        self.renders = 0  # how many times the copy was rendered (tests/test_welcome.py counts them)
        self._cached: tuple[str, WelcomeCopy | None] | None = None
        self._lock = threading.Lock()

    def copy(self) -> WelcomeCopy | None:
        """The current copy, rendered again only when a template file changed."""
        with self._lock:
            key = sources_key(self.config)
            if self._cached is None or self._cached[0] != key:
                self._cached = (key, render_welcome(self.config))  # CheckFailed is not kept
                self.renders += 1
            return self._cached[1]

    def welcome(self, subscriber_id: int, now: dt.datetime | None = None) -> SendReport | None:
        """Welcome one confirmed subscriber, once ever; None when there is nothing to send.

        The row is written before the provider is called, and the send is the runner's: pending rows
        left by an earlier failure go out with this one.
        """
        copy = self.copy()
        if copy is None:
            return None
        ledger = CampaignLedger.for_store(self.store)
        campaign_id = welcome_campaign(self.config, ledger, copy)
        if not ledger.add_welcome_recipient(campaign_id, subscriber_id, now or dt.datetime.now(dt.UTC)):
            return None  # welcomed before (or no such subscriber)
        return self.deliver(campaign_id)

    def retry(self, subscriber_id: int) -> None:
        """After a failure: welcome again (nothing when the row is written) and deliver every pending row."""
        self.welcome(subscriber_id)
        self.deliver_pending()

    def deliver_pending(self) -> list[SendReport]:
        """Deliver the pending rows of every welcome campaign (those a failed delivery left)."""
        waiting = CampaignLedger.for_store(self.store).pending_welcomes()
        return [self.deliver(campaign_id) for campaign_id in waiting]

    def deliver(self, campaign_id: int) -> SendReport:
        """Send one welcome campaign's pending rows through the configured provider."""
        record = CampaignLedger.for_store(self.store).get(campaign_id)
        assert record is not None
        message = delivery.message_from_config(
            self.config, record.subject, record.html, record.text, list_message=True
        )
        plan = SendPlan(
            issue=WELCOME_ISSUE,
            subject=record.subject,
            provider=self.config.delivery.provider,
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
            provider=self.config.delivery.provider,
            campaign_id=campaign_id,
            options=self.options,
        )
        return run_send(self.config, self.store, prepared)


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
    """Welcome one confirmed subscriber, once ever (a one-off Welcomer; `serve` keeps one per process)."""
    return Welcomer(config, store).welcome(subscriber_id, now)
