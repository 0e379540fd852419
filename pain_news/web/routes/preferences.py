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

from pain_news.errors import StoreError
from pain_news.subscribers import signup
from pain_news.vocab import ACTIVE
from pain_news.web.context import form_text, form_topics, read_form, show, subscriber_for, web
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
        return _form_page(request, record, 400, error="Please use one of the buttons on this page.")
    if action == "unsubscribe":
        change = await run_in_threadpool(state.store.unsubscribe, record.id, "link", found.campaign)
        return unsubscribed(request, record.email, change.changed)
    first_name, ticked = form_text(data, "first_name", 200), form_topics(data)
    try:
        _, first_name = signup.validate_signup(record.email, first_name)
        topics = signup.validate_topics(state.config, ticked)
        change = await run_in_threadpool(
            lambda: state.store.update_preferences(
                record.id, topics=topics, first_name=first_name, via="preference page"
            )
        )
    except StoreError as exc:
        return _form_page(
            request, record, 400, error=exc.message, first_name=first_name, chosen=tuple(ticked)
        )
    saved = "Your preferences are saved." if change.changed else "Nothing needed changing."
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
    return show(request, "preferences.html", status, **(values | context))
