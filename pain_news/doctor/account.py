"""The SendGrid account a send uses: the API key's scopes (`GET /v3/scopes`) cover what a list send
calls, and the configured unsubscribe group exists (`GET /v3/asm/groups/{id}`), asked once each
through the official client with the doctor's time budget (no retries: a warning says so instead)."""

from __future__ import annotations

import http.client
import json
from typing import Any

from pain_news.config.settings import Config
from pain_news.doctor.outcomes import ERROR, OK, WARNING, Budget, Outcome
from pain_news.sendgrid.calls import messages
from pain_news.sendgrid.client import make_client

CALL_CAP = 1.5  # seconds one call may take at most
# What a list send calls: Mail Send, and the suppression lists read before it (sendgrid/sync.py).
SEND_SCOPES = (
    "mail.send",
    "suppression.unsubscribes.read",
    "suppression.bounces.read",
    "suppression.spam_reports.read",
    "suppression.invalid_emails.read",
    "suppression.blocks.read",
)
GROUP_SCOPES = ("asm.groups.read", "asm.groups.suppressions.read")  # with sendgrid.asm_group_id
KEY_FIX = (
    "create an API key with Mail Send and Suppressions (read) access in SendGrid → Settings → API Keys "
    "and set SENDGRID_API_KEY to it"
)
AGAIN = "run pain-news doctor again when SendGrid can be reached"


class _Failed(Exception):
    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status  # 0: no answer


def check_account(config: Config, budget: Budget) -> list[Outcome]:
    """One outcome for the key's scopes, one for the unsubscribe group."""
    key = config.secrets.sendgrid_api_key
    if not key:
        return [Outcome(ERROR, "SendGrid: SENDGRID_API_KEY is not set", KEY_FIX)]
    sg = make_client(key, config.sendgrid.host, min(config.sendgrid.timeout, budget.bounded(CALL_CAP)))
    group = config.sendgrid.asm_group_id
    return [_scopes(sg, budget, bool(group)), _group(sg, budget, group)]


def _get(sg: Any, budget: Budget, *path: str) -> Any:
    # the official client's own errors; the client is loaded with it (sendgrid/client.py)
    from python_http_client.exceptions import HTTPError  # type: ignore[import-untyped]

    endpoint = sg.client
    for part in path:
        endpoint = endpoint._(part)
    sg.client.timeout = budget.bounded(CALL_CAP)
    try:
        response = endpoint.get()
    except HTTPError as error:
        raise _Failed(int(error.status_code), messages(error.body)) from None
    except (OSError, http.client.HTTPException) as error:
        raise _Failed(0, str(getattr(error, "reason", error))) from None
    try:
        return json.loads(response.body or b"null")
    except ValueError:
        raise _Failed(0, "the answer is not JSON") from None


def _scopes(sg: Any, budget: Budget, with_group: bool) -> Outcome:
    needed = SEND_SCOPES + (GROUP_SCOPES if with_group else ())
    try:
        answer = _get(sg, budget, "scopes")
    except _Failed as failed:
        if failed.status in (401, 403):
            return Outcome(ERROR, f"SendGrid: the API key was refused ({failed.status}: {failed})", KEY_FIX)
        return Outcome(WARNING, f"SendGrid: the API key's permissions not checked ({failed})", AGAIN)
    granted = set(answer.get("scopes") or []) if isinstance(answer, dict) else set()
    missing = [scope for scope in needed if scope not in granted]
    if missing:
        return Outcome(ERROR, f"SendGrid: the API key lacks {', '.join(missing)}", KEY_FIX)
    return Outcome(OK, f"SendGrid: the API key has the permissions a list send needs ({len(needed)})")


def _group(sg: Any, budget: Budget, group: int) -> Outcome:
    if not group:
        return Outcome(OK, "SendGrid: no unsubscribe group is set (sendgrid.asm_group_id = 0)")
    fix = "create it in SendGrid → Suppressions → Unsubscribe Groups, or set sendgrid.asm_group_id to its id"
    try:
        answer = _get(sg, budget, "asm", "groups", str(group))
    except _Failed as failed:
        if failed.status == 404:
            return Outcome(ERROR, f"SendGrid: unsubscribe group {group} does not exist", fix)
        return Outcome(WARNING, f"SendGrid: unsubscribe group {group} not checked ({failed})", AGAIN)
    name = answer.get("name", "") if isinstance(answer, dict) else ""
    return Outcome(OK, f"SendGrid: unsubscribe group {group} exists" + (f" ({name})" if name else ""))
