"""GET /unsubscribe/<token> shows a button; POST (the button, or RFC 8058's one-click) unsubscribes."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from pain_news.ledger import CampaignLedger
from pain_news.web.context import Linked, read_form, show, subscriber_for, web

if TYPE_CHECKING:
    from pain_news.subscribers.store import SubscriberStore

log = logging.getLogger("pain_news.web")
IN_FLIGHT_WAIT = 30.0  # seconds an unsubscribe answer waits at most for a batch in flight
STALE_CLAIM = dt.timedelta(minutes=10)  # an older in_flight claim belongs to a send that died


async def unsubscribe_page(request: Request) -> Response:
    """The page with the button: a mail scanner opening the link changes nothing."""
    found = await subscriber_for(request)
    if isinstance(found, HTMLResponse):
        return found
    email = "" if found.weak else found.subscriber.email  # a link a guessed key could make names nobody
    return show(request, "unsubscribe.html", language=found.language(request), done=False, email=email)


async def unsubscribe_post(request: Request) -> Response:
    """Unsubscribe, and answer once no copy to this reader is still being handed over."""
    found = await subscriber_for(request)
    if isinstance(found, HTMLResponse):
        return found
    store = web(request).store
    form = await read_form(request)
    # RFC 8058: mail clients post "List-Unsubscribe=One-Click"; a person presses the button.
    method = "one-click" if form is not None and form.get("List-Unsubscribe") == "One-Click" else "link"
    change = await run_in_threadpool(store.unsubscribe, found.subscriber.id, method, found.campaign)
    await _copies_in_flight_settled(store, found.subscriber.id)
    return unsubscribed(request, found, change.changed)


async def unsubscribe_options(request: Request) -> Response:
    """What the link accepts, for `pain-news doctor`'s probe (RFC 8058 one-click needs POST): changes nothing."""
    return Response(status_code=204, headers={"Allow": "GET, HEAD, POST, OPTIONS"})


def unsubscribed(request: Request, found: Linked, changed: bool) -> HTMLResponse:
    """The done page (also after "unsubscribe from everything" on the preference page), in the
    reader's language; without the address when the link may have been made with a guessed key."""
    return show(
        request,
        "unsubscribe.html",
        language=found.language(request),
        done=True,
        changed=changed,
        email="" if found.weak else found.subscriber.email,
        subscribe_url=request.url_for("subscribe").path,
    )


async def _copies_in_flight_settled(store: SubscriberStore, subscriber_id: int) -> None:
    """Wait until no copy to this subscriber is being handed to the provider.

    A list send re-reads opt-outs at every batch, but a batch claimed just before the opt-out
    committed may still be going out: answering only after it settled means nothing is mailed
    after the answer (docs/serve.md). Bounded, so a slow provider cannot hold the page forever.
    """
    ledger = CampaignLedger.for_store(store)
    since = dt.datetime.now(dt.UTC) - STALE_CLAIM
    deadline = time.monotonic() + IN_FLIGHT_WAIT
    while await run_in_threadpool(ledger.in_flight_for, subscriber_id, since=since):
        if time.monotonic() > deadline:
            log.warning("unsubscribe answered while a copy was still in flight after %.0f s", IN_FLIGHT_WAIT)
            return
        await asyncio.sleep(0.05)
