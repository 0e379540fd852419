"""The preference page behind every list email's "Manage preferences" link.

GET shows the form (mail scanners open links: nothing changes); POST saves topics and first
name, or unsubscribes from everything through the store's status-change path. The link's token
has its own purpose ("preferences"), so it can never be used as an unsubscribe or confirmation
link, nor one of those as this (web/context.py's subscriber_for).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from pain_news import i18n
from pain_news.errors import StoreError
from pain_news.i18n import N_
from pain_news.subscribers import signup
from pain_news.vocab import ACTIVE
from pain_news.web.context import form_text, form_topics, page_language, read_form, show, subscriber_for, web
from pain_news.web.routes.unsubscribe import unsubscribed

if TYPE_CHECKING:
    from pain_news.subscribers.store import SubscriberRecord

ACTIONS = ("save", "unsubscribe")
PURPOSE = "preferences"


async def preferences_page(request: Request) -> Response:
    """The form with the reader's topics and first name."""
    found = await subscriber_for(request, PURPOSE)
    return found if isinstance(found, HTMLResponse) else _form_page(request, found.subscriber)


async def preferences_post(request: Request) -> Response:
    """Save the form, or unsubscribe from everything."""
    found = await subscriber_for(request, PURPOSE)
    if isinstance(found, HTMLResponse):
        return found
    state, record = web(request), found.subscriber
    data = await read_form(request)
    action = str(data.get("action", "")) if data is not None else ""
    if action not in ACTIONS:
        error = i18n.translate(page_language(request, record), "Please use one of the buttons on this page.")
        return _form_page(request, record, 400, error=error)
    if action == "unsubscribe":
        change = await run_in_threadpool(state.store.unsubscribe, record.id, "link", found.campaign)
        return unsubscribed(request, record, change.changed)
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
