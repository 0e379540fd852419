"""`subscribers sync`: apply SendGrid's suppression lists to the store, through the official client."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pain_news.errors import ConfigError, DeliveryError

if TYPE_CHECKING:
    from pain_news.config import Config
    from pain_news.store import SubscriberStore

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
        return (f"SendGrid suppressions: {lists}; {self.changed} subscribers opted out here, "
                f"{self.suppressed_unknown} unknown addresses suppressed")


def _client(config: Config) -> Any:
    import sendgrid  # type: ignore[import-untyped]

    if not config.secrets.sendgrid_api_key:
        raise ConfigError("SENDGRID_API_KEY is not set", hint="add it to .env or the environment")
    sg = sendgrid.SendGridAPIClient(api_key=config.secrets.sendgrid_api_key, host=config.sendgrid.host)
    sg.client.timeout = config.sendgrid.timeout  # the client waits forever by default (TRAPS.md)
    return sg


def _get_all(sg: Any, path: str) -> list[str]:
    """Every address on one list, page by page (limit/offset) until a short page."""
    from python_http_client.exceptions import HTTPError  # type: ignore[import-untyped]

    endpoint = sg.client
    for part in path.split("/"):
        endpoint = endpoint._(part)
    emails: list[str] = []
    offset = 0
    while True:
        try:
            response = endpoint.get(query_params={"limit": PAGE, "offset": offset})
        except HTTPError as exc:  # error.body carries SendGrid's message; str(exc) hides it
            raise DeliveryError(f"SendGrid refused GET /v3/{path} ({exc.status_code}): {_message(exc.body)}") from None
        except OSError as exc:
            raise DeliveryError(f"cannot reach SendGrid for /v3/{path}: {exc}") from None
        page = json.loads(response.body or b"[]")
        emails += [item if isinstance(item, str) else str(item.get("email", "")) for item in page]
        if len(page) < PAGE:
            return [e for e in emails if e]
        offset += PAGE


def _message(body: bytes | str | None) -> str:
    try:
        errors = json.loads(body or b"{}").get("errors") or []
        return "; ".join(str(e.get("message")) for e in errors) or "no details"
    except (ValueError, AttributeError):
        return "no details"


def sync_suppressions(config: Config, store: SubscriberStore) -> SyncSummary:
    """Pull every suppression list (and the configured ASM group) and opt those addresses out here."""
    sg = _client(config)
    lists = list(LISTS)
    if config.sendgrid.asm_group_id:
        lists.insert(1, (f"asm/groups/{config.sendgrid.asm_group_id}/suppressions", "unsubscribed"))
    summary = SyncSummary()
    for path, status in lists:
        emails = _get_all(sg, path)
        summary.seen[path.rsplit("/", 1)[-1] if "asm" not in path else "group unsubscribes"] = len(emails)
        for email in emails:
            change = store.opt_out_address(email, status, "sendgrid-sync", detail=f"SendGrid {path}")
            if change is None:
                summary.suppressed_unknown += 1
            elif change.changed:
                summary.changed += 1
    return summary
