"""The reviewer's "Approve this version" page behind the button of a [REVIEW] copy.

GET shows the version the link approves (subject, preheader, sender, text) and what changed since
the last approval (the source diff); mail scanners open links, so nothing changes. POST, from our
own page only (web/security.py's same-origin check), records the approval as "emailed link": the
token is bound to the version's hash and the reviewer, expires and works once
(pain_news/signoff/approve.py). Reviewers need no terminal, and an `email_only` reviewer can
approve no other way.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from pain_news import i18n
from pain_news.config.clock import clinic_zone, shown
from pain_news.errors import ApprovalError, InvalidToken
from pain_news.i18n import N_
from pain_news.signoff import approve
from pain_news.signoff.content import KIND_ISSUE, TITLES
from pain_news.web.context import form_text, page_language, problem, read_form, refuse, show, web
from pain_news.web.security import same_origin

NOTE_LIMIT = 500  # a reviewer's note: a sentence or two
OTHER_ORIGIN = N_("This form must be sent from our own page.")
OTHER_ORIGIN_HINT = N_("Open the link from the email again and press the button there.")


async def approve_page(request: Request) -> Response:
    """The version to approve, what changed since the last approval, and the button."""
    found = await _review(request)
    return found if isinstance(found, HTMLResponse) else _page(request, found)


async def approve_post(request: Request) -> Response:
    """Record the approval the link was made for, once."""
    state = web(request)
    if not same_origin(request, state.config.newsletter.public_url):
        return refuse(request, 403, OTHER_ORIGIN, OTHER_ORIGIN_HINT)
    found = await _review(request)
    if isinstance(found, HTMLResponse):
        return found
    note = form_text(await read_form(request), "note", NOTE_LIMIT)
    now = dt.datetime.now(dt.UTC)
    try:
        recorded = await run_in_threadpool(
            approve.approve_by_link, state.config, state.store, request.path_params["token"], note, now
        )
    except (InvalidToken, ApprovalError) as exc:
        return problem(request, exc, 409)
    zone = clinic_zone(state.config)
    return _page(request, found, approved_at=shown(recorded.approved_at, zone))


async def _review(request: Request) -> approve.LinkReview | HTMLResponse:
    state = web(request)
    now = dt.datetime.now(dt.UTC)
    try:
        return await run_in_threadpool(
            approve.open_link, state.config, state.store, request.path_params["token"], now
        )
    except InvalidToken as exc:
        return problem(request, exc, 400)


def _page(request: Request, review: approve.LinkReview, approved_at: str = "") -> HTMLResponse:
    config = web(request).config
    zone = clinic_zone(config)
    language = page_language(request)
    content = review.status.content if review.status is not None else None
    previous = review.previous
    news = config.newsletter
    values: dict[str, Any] = {
        "what": i18n.translate(
            language, TITLES.get(review.request.kind, TITLES[KIND_ISSUE]), name=review.request.content
        ),
        "reviewer": review.reviewer.name,
        "version": review.request.hash[:12],
        "until": shown(review.request.expires_at, zone),
        "current": review.current,
        "subject": content.subject if content else "",
        "preheader": content.preheader if content else "",
        "sender": f"{news.from_name or news.name} <{news.from_email}>",
        "text": review.text if review.current else "",
        "previous": None
        if previous is None
        else {
            "name": previous.reviewer_name,
            "when": shown(previous.approved_at, zone),
            "version": previous.hash[:12],
        },
        "diff": [(_line_kind(line), line) for line in review.diff.splitlines()],
        "approved_at": approved_at,
    }
    return show(request, "approve.html", language=language, **values)


def _line_kind(line: str) -> str:
    """A diff line's class on the page: added, removed, or context."""
    if line.startswith(("+++", "---", "@@")):
        return "head"
    return {"+": "add", "-": "del"}.get(line[:1], "")
