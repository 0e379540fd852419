"""One call to SendGrid's v3 API outside Mail Send, through the official client, with the list
send's retry policy (delivery/retry.py): 429, 5xx and lost connections are repeated with the same
attempts and backoff, Retry-After honoured; anything else is one DeliveryError with SendGrid's own
message (`str(error)` hides it: docs/design/dependency-traps.md).

Used by the suppression sync (sync.py) and the withdrawal queue (withdraw.py). Paths name the
endpoint as SendGrid's OpenAPI description does, e.g. `asm/groups/7/suppressions`.
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pain_news.delivery.retry import BACKOFF_BASE, MAX_ATTEMPTS, retry_after_seconds, retry_call
from pain_news.errors import DeliveryError, ProviderBusy


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a SendGrid call is repeated: the list send's own defaults."""

    attempts: int = MAX_ATTEMPTS
    base: float = BACKOFF_BASE
    sleep: Callable[[float], None] = time.sleep


SEND_POLICY = RetryPolicy()  # the list send's defaults (campaign/plan.py SendOptions)


def call(
    sg: Any,
    method: str,
    path: str,
    *,
    body: Any = None,
    query: dict[str, int] | None = None,
    policy: RetryPolicy = SEND_POLICY,
    missing_ok: bool = False,
    permission: str = "",
    then: str = "",
) -> Any:
    """`method` /v3/`path` with the retry policy; the decoded JSON answer (None when empty, or for a
    404 with `missing_ok`). Addresses in `path` are percent-encoded."""
    return retry_call(
        lambda: _once(sg, method, path, body, query, missing_ok, permission),
        attempts=policy.attempts,
        base=policy.base,
        sleep=policy.sleep,
        then=then,
    )


def _once(
    sg: Any,
    method: str,
    path: str,
    body: Any,
    query: dict[str, int] | None,
    missing_ok: bool,
    permission: str,
) -> Any:
    from python_http_client.exceptions import HTTPError  # type: ignore[import-untyped]

    endpoint = sg.client
    for part in path.split("/"):
        endpoint = endpoint._(urllib.parse.quote(part, safe="@"))
    kwargs: dict[str, Any] = {}
    if body is not None:
        kwargs["request_body"] = body
    if query:
        kwargs["query_params"] = query
    shown = f"{method.upper()} /v3/{_redacted(path)}"
    try:
        response = getattr(endpoint, method.lower())(**kwargs)
    except HTTPError as exc:
        status = int(exc.status_code)
        if status == 404 and missing_ok:
            return None
        refused = f"SendGrid refused {shown} ({status}): {messages(exc.body)}"
        if status == 429 or status >= 500:
            raise ProviderBusy(refused, retry_after=retry_after_seconds(exc.headers)) from None
        hint = None
        if status in (401, 403):
            needs = f'the "{permission}" permission' if permission else "the permission for this call"
            hint = f"the API key may lack {needs} (or be wrong): check SENDGRID_API_KEY"
        raise DeliveryError(refused, hint=hint) from None
    except (OSError, http.client.HTTPException) as exc:
        raise ProviderBusy(f"cannot reach SendGrid for {shown}: {exc}") from None
    try:
        return json.loads(response.body) if response.body else None
    except ValueError:
        raise DeliveryError(f"SendGrid answered {shown} with something that is not JSON") from None


def _redacted(path: str) -> str:
    """The path as messages show it: an address in it becomes `{email}` (errors name no patient)."""
    return "/".join("{email}" if "@" in part else part for part in path.split("/"))


def messages(body: bytes | str | None) -> str:
    """SendGrid's own error messages from a response body, joined for one line."""
    try:
        errors = json.loads(body or b"{}").get("errors") or []
        return "; ".join(str(e.get("message")) for e in errors) or "no details"
    except (ValueError, AttributeError):
        return "no details"
