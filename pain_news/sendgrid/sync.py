"""`subscribers sync`: apply SendGrid's suppression lists to the store, through the official client."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pain_news.delivery.retry import BACKOFF_BASE, backoff_delay, retry_after_seconds
from pain_news.errors import ConfigError, DeliveryError

if TYPE_CHECKING:
    from pain_news.config.settings import Config
    from pain_news.subscribers.store import SubscriberStore

PAGE = 500  # the largest page SendGrid's suppression endpoints return
ATTEMPTS = 3  # per GET: a brief outage is ridden out, a long one stops the send before it starts
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


def _client(config: Config) -> Any:
    # lazy: the sendgrid package loads only when SendGrid is called
    from pain_news.sendgrid.client import make_client  # timeout, and loggers that never show the key

    if not config.secrets.sendgrid_api_key:
        raise ConfigError("SENDGRID_API_KEY is not set", hint="add it to .env or the environment")
    return make_client(config.secrets.sendgrid_api_key, config.sendgrid.host, config.sendgrid.timeout)


def _get(sg: Any, path: str, query: dict[str, int] | None, sleep: Callable[[float], None]) -> list[Any]:
    """One GET of /v3/<path>, as the JSON list it answers, retrying 429, 5xx and lost connections
    with the send's backoff (Retry-After honoured); DeliveryError with SendGrid's message after that."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return _get_once(sg, path, query)
        except _Transient as exc:
            if attempt == ATTEMPTS:
                raise DeliveryError(
                    f"{exc.message}, still after {ATTEMPTS} attempts; nothing was sent",
                    hint="SendGrid may be having an outage: run the same command again in a few minutes",
                ) from None
            sleep(backoff_delay(attempt, BACKOFF_BASE, exc.retry_after))
    raise AssertionError("unreachable")


class _Transient(Exception):
    """A GET worth repeating: rate limited, a server error, or no answer."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


def _get_once(sg: Any, path: str, query: dict[str, int] | None) -> list[Any]:
    from python_http_client.exceptions import HTTPError  # type: ignore[import-untyped]

    endpoint = sg.client
    for part in path.split("/"):
        endpoint = endpoint._(part)
    try:
        response = endpoint.get(query_params=query) if query else endpoint.get()
    except HTTPError as exc:  # error.body carries SendGrid's message; str(exc) hides it
        refused = f"SendGrid refused GET /v3/{path} ({exc.status_code}): {_message(exc.body)}"
        if exc.status_code == 429 or exc.status_code >= 500:
            raise _Transient(refused, retry_after_seconds(exc.headers)) from None
        hint = (
            'the API key may lack the "Suppressions: read" permission (or be wrong): check SENDGRID_API_KEY'
            if exc.status_code in (401, 403)
            else None
        )
        raise DeliveryError(refused, hint=hint) from None
    except OSError as exc:
        raise _Transient(f"cannot reach SendGrid for /v3/{path}: {exc}") from None
    try:
        page = json.loads(response.body or b"[]")
    except ValueError:
        raise DeliveryError(f"SendGrid answered GET /v3/{path} with something that is not JSON") from None
    if not isinstance(page, list):
        raise DeliveryError(f"SendGrid answered GET /v3/{path} with {type(page).__name__}, expected a list")
    return page


def _emails(page: list[Any]) -> list[str]:
    return [
        item if isinstance(item, str) else str(item.get("email", "")) if isinstance(item, dict) else ""
        for item in page
    ]


def _get_all(sg: Any, path: str, sleep: Callable[[float], None]) -> list[str]:
    """Every address on a paginated list (limit/offset) until a short page.

    A page identical to the one before means the server ignored `offset`: stop instead of
    looping forever (what was read is still applied).
    """
    emails: list[str] = []
    offset = 0
    previous: list[Any] | None = None
    while True:
        page = _get(sg, path, {"limit": PAGE, "offset": offset}, sleep)
        if page and page == previous:
            break
        emails += _emails(page)
        if len(page) < PAGE:
            break
        previous = page
        offset += PAGE
    return [e for e in emails if e]


def _get_group(sg: Any, group_id: int, sleep: Callable[[float], None]) -> list[str]:
    """The unsubscribes of one ASM group: SendGrid documents this endpoint as returning all of them
    in one answer (a list of addresses), with no limit/offset paging."""
    return [e for e in _emails(_get(sg, f"asm/groups/{group_id}/suppressions", None, sleep)) if e]


def _message(body: bytes | str | None) -> str:
    try:
        errors = json.loads(body or b"{}").get("errors") or []
        return "; ".join(str(e.get("message")) for e in errors) or "no details"
    except (ValueError, AttributeError):
        return "no details"


def sync_suppressions(
    config: Config, store: SubscriberStore, *, sleep: Callable[[float], None] = time.sleep
) -> SyncSummary:
    """Pull every suppression list (and the configured ASM group) and opt those addresses out here.

    Each list is applied in one transaction as soon as it is read: a later failure keeps these.
    """
    sg = _client(config)
    lists = list(LISTS)
    if config.sendgrid.asm_group_id:
        lists.insert(1, (f"asm/groups/{config.sendgrid.asm_group_id}/suppressions", "unsubscribed"))
    summary = SyncSummary()
    for path, status in lists:
        group = path.startswith("asm/")
        emails = _get_group(sg, config.sendgrid.asm_group_id, sleep) if group else _get_all(sg, path, sleep)
        summary.seen["group unsubscribes" if group else path.rsplit("/", 1)[-1]] = len(emails)
        result = store.opt_out_addresses(emails, status, "sendgrid-sync", detail=f"SendGrid {path}")
        summary.changed += result.changed
        summary.suppressed_unknown += result.suppressed_unknown
    return summary
