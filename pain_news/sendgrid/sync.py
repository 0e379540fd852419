"""`subscribers sync`: apply SendGrid's suppression lists to the store, through the official client."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pain_news.delivery.retry import BACKOFF_BASE, MAX_ATTEMPTS
from pain_news.errors import ConfigError, DeliveryError
from pain_news.sendgrid import calls
from pain_news.sendgrid.calls import RetryPolicy

if TYPE_CHECKING:
    from pain_news.config.settings import Config
    from pain_news.subscribers.store import SubscriberStore

PAGE = 500  # the largest page SendGrid's suppression endpoints return
# list path -> status it means for us. Blocks and invalid addresses will not take mail either.
LISTS = (
    ("suppression/unsubscribes", "unsubscribed"),
    ("suppression/bounces", "bounced"),
    ("suppression/spam_reports", "complained"),
    ("suppression/invalid_emails", "bounced"),
    ("suppression/blocks", "bounced"),
)


@dataclass
class SyncSummary:
    """How many addresses each list held and how many changed a status here."""

    seen: dict[str, int] = field(default_factory=dict)
    changed: int = 0
    suppressed_unknown: int = 0

    def summary_line(self) -> str:
        lists = ", ".join(f"{name} {count}" for name, count in self.seen.items())
        return (
            f"SendGrid suppressions: {lists}; {self.changed} subscribers opted out here, "
            f"{self.suppressed_unknown} unknown addresses suppressed"
        )


def client_for(config: Config) -> Any:
    """The official client for the configured SendGrid account; ConfigError without an API key."""
    from pain_news.sendgrid.client import make_client  # timeout, and loggers that never show the key

    if not config.secrets.sendgrid_api_key:
        raise ConfigError("SENDGRID_API_KEY is not set", hint="add it to .env or the environment")
    return make_client(config.secrets.sendgrid_api_key, config.sendgrid.host, config.sendgrid.timeout)


def _get(sg: Any, path: str, query: dict[str, int] | None, policy: RetryPolicy) -> list[Any]:
    """One GET of /v3/<path>, as the JSON list it answers, with the send's retry policy (calls.py)."""
    page = calls.call(
        sg,
        "get",
        path,
        query=query,
        policy=policy,
        permission="Suppressions: read",
        then="; nothing was sent",
    )
    page = [] if page is None else page
    if not isinstance(page, list):
        raise DeliveryError(f"SendGrid answered GET /v3/{path} with {type(page).__name__}, expected a list")
    return page


def _emails(page: list[Any]) -> list[str]:
    return [
        item if isinstance(item, str) else str(item.get("email", "")) if isinstance(item, dict) else ""
        for item in page
    ]


def _get_all(sg: Any, path: str, policy: RetryPolicy) -> list[str]:
    """Every address on a paginated list (limit/offset) until a short page.

    A page identical to the one before means the server ignored `offset`: stop instead of
    looping forever (what was read is still applied).
    """
    emails: list[str] = []
    offset = 0
    previous: list[Any] | None = None
    while True:
        page = _get(sg, path, {"limit": PAGE, "offset": offset}, policy)
        if page and page == previous:
            break
        emails += _emails(page)
        if len(page) < PAGE:
            break
        previous = page
        offset += PAGE
    return [e for e in emails if e]


def _get_group(sg: Any, group_id: int, policy: RetryPolicy) -> list[str]:
    """The unsubscribes of one ASM group: SendGrid documents this endpoint as returning all of them
    in one answer (a list of addresses), with no limit/offset paging."""
    return [e for e in _emails(_get(sg, f"asm/groups/{group_id}/suppressions", None, policy)) if e]


def sync_suppressions(
    config: Config,
    store: SubscriberStore,
    *,
    sleep: Callable[[float], None] = time.sleep,
    attempts: int = MAX_ATTEMPTS,
    base: float = BACKOFF_BASE,
) -> SyncSummary:
    """Pull every suppression list (and the configured ASM group) and opt those addresses out here.

    Every call follows the list send's retry policy (`attempts`, backoff from `base`, Retry-After
    honoured), so a short SendGrid incident at the start of a send is ridden out as the send
    itself would ride it out. Each list is applied in one transaction as soon as it is read: a
    later failure keeps these.
    """
    sg = client_for(config)
    policy = RetryPolicy(attempts, base, sleep)
    lists = list(LISTS)
    if config.sendgrid.asm_group_id:
        lists.insert(1, (f"asm/groups/{config.sendgrid.asm_group_id}/suppressions", "unsubscribed"))
    summary = SyncSummary()
    for path, status in lists:
        group = path.startswith("asm/")
        emails = _get_group(sg, config.sendgrid.asm_group_id, policy) if group else _get_all(sg, path, policy)
        summary.seen["group unsubscribes" if group else path.rsplit("/", 1)[-1]] = len(emails)
        result = store.opt_out_addresses(emails, status, "sendgrid-sync", detail=f"SendGrid {path}")
        summary.changed += result.changed
        summary.suppressed_unknown += result.suppressed_unknown
    return summary
