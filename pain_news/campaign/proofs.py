"""Test sends: a "[TEST]" copy to editors, never recorded against a campaign, never to an opt-out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pain_news import delivery
from pain_news.campaign.gates import SendRequest, gated_build
from pain_news.campaign.options import SendOptions
from pain_news.campaign.personalize import sample_recipient
from pain_news.config.settings import CONFIG_NAME
from pain_news.delivery.retry import deliver_now
from pain_news.errors import ConfigError, DeliveryError, IssueError
from pain_news.ledger import CampaignLedger
from pain_news.subscribers.store import check_email, email_key
from pain_news.vocab import OPTED_OUT

if TYPE_CHECKING:
    from pain_news.config.settings import Config
    from pain_news.issue.model import Issue
    from pain_news.publish.build import BuildResult
    from pain_news.render.pipeline import Rendered
    from pain_news.subscribers.store import SubscriberStore


@dataclass(frozen=True, kw_only=True)
class SentTest:
    """Who a test send went to, who was skipped as opted out (address, why), and whether it was a dry run."""

    sent: list[str]
    skipped: list[tuple[str, str]]
    dry_run: bool = False
    warnings: tuple[str, ...] = ()  # what a list send would refuse (placeholder settings, not published)


def send_test(
    config: Config,
    store: SubscriberStore | None,
    issue_dir: Path,
    to: Sequence[str],
    provider: str | None = None,
    *,
    dry_run: bool = False,
    language: str | None = None,
) -> SentTest:
    """Build and check the issue, then send it with "[TEST] " to `to` (or delivery.test_recipients).

    The [sample] subscriber's values fill the placeholders; nothing is recorded against a campaign.
    Opt-outs are sacred here too: an address that unsubscribed, bounced, complained or is
    suppressed in the store is skipped. `store` is None before the subscriber database is set up:
    nobody can have opted out yet, so a first test needs no list. With `dry_run` every message is
    built and none delivered. `language` picks the edition (default: the issue's first).
    """

    # One copy per mailbox: `--to a@x --to A@x` is one person (SendGrid also refuses a repeat).
    unique: dict[str, str] = {}
    for address in (check_email(a) for a in (to or config.delivery.test_recipients)):
        unique.setdefault(email_key(address), address)
    addresses = list(unique.values())
    if not addresses:
        raise ConfigError(
            "no test recipients",
            path=config.path or config.root / CONFIG_NAME,
            hint="pass --to ADDRESS or set test_recipients under [delivery]",
        )
    skipped = _opted_out(store, addresses) if store is not None else []
    addresses = [a for a in addresses if a not in {a for a, _ in skipped}]
    if not addresses:
        raise DeliveryError(
            "no test recipient left: " + "; ".join(f"{a} is {why}" for a, why in skipped),
            hint="opted-out addresses are never mailed; pass another --to ADDRESS",
        )
    # The list send's gates, in test mode: drafts and old reviews pass, placeholders and an
    # unpublished issue only warn (pain_news/campaign/gates.py).
    request = SendRequest(
        config=config, issue_dir=issue_dir, options=SendOptions(provider=provider), test=True, store=store
    )
    result = gated_build(request)
    warnings = tuple(request.warnings)
    issue, rendered = _edition(result, language)
    message = delivery.message_from_config(
        config,
        f"[TEST] {issue.subject}",
        rendered.email_html,
        rendered.email_text,
        label="test",
        list_message=True,
    )
    recipients = [sample_recipient(config, a) for a in addresses]
    if dry_run:
        return SentTest(sent=addresses, skipped=skipped, dry_run=True, warnings=warnings)
    chosen = delivery.get_provider(config, provider)
    try:
        deliver_now(chosen, message, recipients)
    finally:
        chosen.close()
    return SentTest(sent=addresses, skipped=skipped, warnings=warnings)


def _edition(result: BuildResult, language: str | None) -> tuple[Issue, Rendered]:
    """The built edition in `language` (None: the default one); refuses a language the issue lacks."""
    if language is None or language == result.issue.language:
        return result.issue, result.rendered
    for issue, rendered in result.editions:
        if issue.language == language:
            return issue, rendered
    raise IssueError(
        f"the issue has no {language} edition (it has: {', '.join(result.issue.languages)})",
        path=result.issue.folder / "issue.toml",
        hint="add the language to languages = [...] in issue.toml and write its NAME.LANG.md files",
    )


def _opted_out(store: SubscriberStore, addresses: Sequence[str]) -> list[tuple[str, str]]:
    """The addresses that must not be mailed, each with why (its opted-out status, or "suppressed")."""
    suppressed = CampaignLedger.for_store(store).suppressed(addresses)
    out = []
    for address in addresses:
        found = store.get(address)
        if found is not None and found.status in OPTED_OUT:
            out.append((address, found.status))
        elif address in suppressed:
            out.append((address, "suppressed"))
    return out
