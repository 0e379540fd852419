"""The preference page behind every list email's "Manage preferences" link.

GET shows the form (mail scanners open links: nothing changes); POST saves topics and first
name, or unsubscribes from everything through the store's status-change path. The link's token
has its own purpose ("preferences"), so it can never be used as an unsubscribe or confirmation
link, nor one of those as this; keys from before a rotation still verify.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from pain_news.errors import InvalidToken, PainNewsError, StoreError
from pain_news.vocab import ACTIVE

if TYPE_CHECKING:
    from pain_news.config.settings import Config
    from pain_news.subscribers.store import SubscriberRecord, SubscriberStore

Show = Callable[..., HTMLResponse]
Problem = Callable[[PainNewsError, int], HTMLResponse]
ACTIONS = ("save", "unsubscribe")


def preference_routes(
    config: Config, store: SubscriberStore, show: Show, problem: Problem, form: Callable[[Request], Any]
) -> list[Route]:
    """GET and POST /preferences/<token>, rendered with the app's `show` and `problem` pages."""
    # lazy: loaded when the app is made, not when serve or preview imports this module
    from pain_news import links
    from pain_news.subscribers import signup

    async def subscriber_for(request: Request) -> tuple[int | None, SubscriberRecord] | HTMLResponse:
        try:
            sid, campaign = links.read_token(
                config.secrets.verification_keys or config.secrets.secret_key,
                request.path_params["token"],
                purpose="preferences",
            )
        except InvalidToken as exc:
            return problem(exc, 400)
        record = await run_in_threadpool(store.get, sid)
        if record is None:
            return problem(InvalidToken("this link names a subscriber we no longer have"), 404)
        return campaign, record

    def page(record: SubscriberRecord, status: int = 200, **context: Any) -> HTMLResponse:
        values: dict[str, Any] = {
            "email": record.email,
            "first_name": record.first_name,
            "chosen": record.topics,
            "active": record.status == ACTIVE,
            "topics": config.topics,
            "done": "",
            "error": "",
        }
        return show("preferences.html", status, **(values | context))

    async def preferences_page(request: Request) -> Response:
        found = await subscriber_for(request)
        return found if isinstance(found, HTMLResponse) else page(found[1])

    async def preferences_post(request: Request) -> Response:
        found = await subscriber_for(request)
        if isinstance(found, HTMLResponse):
            return found
        campaign, record = found
        data = await form(request)
        action = str(data.get("action", "")) if data is not None else ""
        if action not in ACTIONS:
            return page(record, 400, error="Please use one of the buttons on this page.")
        if action == "unsubscribe":
            change = await run_in_threadpool(store.unsubscribe, record.id, "link", campaign)
            return show(
                "unsubscribe.html",
                done=True,
                changed=change.changed,
                email=record.email,
                subscribe_url=request.url_for("subscribe").path,
            )
        first_name = str(data.get("first_name", "")).strip()[:200] if data is not None else ""
        ticked = [str(t) for t in data.getlist("topic")][:50] if data is not None else []
        try:
            _, first_name = signup.validate_signup(record.email, first_name)
            topics = signup.validate_topics(config, ticked)
            change = await run_in_threadpool(
                lambda: store.update_preferences(
                    record.id, topics=topics, first_name=first_name, via="preference page"
                )
            )
        except StoreError as exc:
            return page(record, 400, error=exc.message, first_name=first_name, chosen=tuple(ticked))
        saved = "Your preferences are saved." if change.changed else "Nothing needed changing."
        return page(change.subscriber, done=saved)

    return [
        Route("/preferences/{token}", preferences_page, methods=["GET"]),
        Route("/preferences/{token}", preferences_post, methods=["POST"]),
    ]
