"""The preference page behind every list email's "Manage preferences" link.

GET shows the form (mail scanners open links: nothing changes); POST saves topics and first
name, or unsubscribes from everything through the store's status-change path. The link's token
has its own purpose ("preferences"), so it can never be used as an unsubscribe or confirmation
link, nor one of those as this (pain_news/links.py).

Topics can be health data, and emails get forwarded: a link works serve.preference_link_days
after its email was delivered. An expired link's page shows nothing about the subscriber and
offers one button, which mails a fresh link to the subscriber's own address (web/queues.py's
FreshLinkQueue). Every POST must come from our own pages (the same-origin check signup uses).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from pain_news import i18n, links
from pain_news.errors import InvalidToken, StoreError
from pain_news.i18n import N_
from pain_news.subscribers import signup
from pain_news.vocab import ACTIVE
from pain_news.web.context import (
    Linked,
    form_text,
    form_topics,
    linked_subscriber,
    page_language,
    problem,
    read_form,
    refuse,
    show,
    web,
)
from pain_news.web.routes.unsubscribe import unsubscribed
from pain_news.web.security import same_origin

if TYPE_CHECKING:
    from pain_news.subscribers.store import SubscriberRecord

ACTIONS = ("save", "unsubscribe")
FRESH = "fresh"  # the expired page's one button


async def preferences_page(request: Request) -> Response:
    """The form with the reader's topics and first name; for an expired link, the fresh-link button."""
    link = _link(request)
    if not isinstance(link, links.PreferenceLink):
        return link
    if _expired(request, link):
        return _expired_page(request)
    found = await linked_subscriber(request, link.subscriber_id, link.campaign_id)
    return found if isinstance(found, HTMLResponse) else _form_page(request, found.subscriber)


async def preferences_post(request: Request) -> Response:
    """Save the form, or unsubscribe from everything; on an expired link, mail a fresh one."""
    data = await read_form(request)  # first: BodyLimit must see an oversized body (413)
    if not same_origin(request, web(request).config.newsletter.public_url):
        return refuse(
            request,
            403,
            N_("This form can only be sent from our own preference page."),
            N_("Open the link in your email and use the buttons on that page."),
        )
    link = _link(request)
    if not isinstance(link, links.PreferenceLink):
        return link
    action = str(data.get("action", "")) if data is not None else ""
    if _expired(request, link):
        if action != FRESH:
            return _expired_page(request, 400)
        # Queued, so the answer and its timing are the same whoever the link names.
        web(request).fresh_links.submit(link.subscriber_id)
        return _expired_page(request, sent=True)
    found = await linked_subscriber(request, link.subscriber_id, link.campaign_id)
    if isinstance(found, HTMLResponse):
        return found
    return await _change(request, found, data, action)


async def _change(request: Request, found: Linked, data: FormData | None, action: str) -> Response:
    state, record = web(request), found.subscriber
    if action not in ACTIONS:
        error = i18n.translate(page_language(request, record), "Please use one of the buttons on this page.")
        return _form_page(request, record, 400, error=error)
    if action == "unsubscribe":
        change = await run_in_threadpool(state.store.unsubscribe, record.id, "link", found.campaign)
        return unsubscribed(request, found, change.changed)
    first_name, ticked = form_text(data, "first_name", 200), form_topics(data)
    try:
        _, first_name = signup.validate_signup(record.email, first_name)
        topics = signup.validate_topics(state.config, ticked)
        change = await run_in_threadpool(
            lambda: state.store.update_preferences(
                record.id, topics=topics, first_name=first_name, via="preference page", by_subscriber=True
            )
        )
    except StoreError as exc:
        error = i18n.translate(page_language(request, record), exc.message)
        return _form_page(request, record, 400, error=error, first_name=first_name, chosen=tuple(ticked))
    saved = N_("Your preferences are saved.") if change.changed else N_("Nothing needed changing.")
    saved = i18n.translate(page_language(request, change.subscriber), saved)
    return _form_page(request, change.subscriber, done=saved)


def _link(request: Request) -> links.PreferenceLink | HTMLResponse:
    """The verified link in the path (expired or not), or the error page for a bad one."""
    config = web(request).config
    keys = config.secrets.verification_keys or config.secrets.secret_key
    try:
        return links.read_preferences_token(keys, request.path_params["token"])
    except InvalidToken as exc:
        return problem(request, exc, 400)


def _expired(request: Request, link: links.PreferenceLink) -> bool:
    return link.expired(web(request).config.serve.preference_link_days, time.time())


def _expired_page(request: Request, status: int = 200, sent: bool = False) -> HTMLResponse:
    """The same page whoever the link names: no address, name, topics or status (nothing is looked up)."""
    days = str(web(request).config.serve.preference_link_days)
    return show(request, "preferences_expired.html", status, days=days, sent=sent)


def _form_page(request: Request, record: SubscriberRecord, status: int = 200, **context: Any) -> HTMLResponse:
    values: dict[str, Any] = {
        "email": record.email,
        "first_name": record.first_name,
        "chosen": record.topics,
        "active": record.status == ACTIVE,
        "topics": web(request).config.topics,
        "done": "",
        "error": "",
    }
    return show(request, "preferences.html", status, page_language(request, record), **(values | context))
