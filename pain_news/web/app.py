"""The `serve` app (Starlette): unsubscribe and preference links, signup with double opt-in, SendGrid's event webhook.

Routes parse the request, call one domain function (in a worker thread: the store blocks), and
render a page. Every page escapes what it shows (web/pages.py autoescapes); every response gets
the security headers (web/security.py). Links only ever change something on POST: mail gateways
open every link in a message (docs/security.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pain_news.campaign.personalize import SAMPLE_SUBSCRIBER_ID
from pain_news.errors import InvalidToken, PainNewsError, StoreError, WebhookRejected
from pain_news.vocab import ACTIVE
from pain_news.web import inbound
from pain_news.web.pages import opt_out_hint, page
from pain_news.web.preferences import preference_routes
from pain_news.web.queues import WelcomeQueue
from pain_news.web.security import ClientLimit, SecurityHeaders, client_address, networks, same_origin
from pain_news.web.signups import SignupQueue, redact, redact_server_log

if TYPE_CHECKING:
    from pain_news.config.settings import Config
    from pain_news.subscribers.store import SubscriberStore

log = logging.getLogger("pain_news.web")
IN_FLIGHT_WAIT = 30.0  # seconds an unsubscribe answer waits at most for a batch in flight
STALE_CLAIM = dt.timedelta(minutes=10)  # an older in_flight claim belongs to a send that died
FORM_LIMIT = 16 * 1024  # a signup or unsubscribe form is a few hundred bytes
WEBHOOK_LIMIT = 5 * 1024 * 1024  # SendGrid posts batches of events
# Pages name addresses and carry tokens: never cache them (the security headers come from middleware).
HEADERS = {"Cache-Control": "no-store"}
HONEYPOT = "website"  # a field people never see nor fill in (subscribe.html); bots fill every field


class BodyLimit:
    """Answers 413 to bodies over the route's limit, whether Content-Length says so or not."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = WEBHOOK_LIMIT if scope["path"].startswith("/webhooks/") else FORM_LIMIT
        if scope["path"].startswith(inbound.PREFIX):  # whole emails: serve.inbound_max_bytes
            limit = inbound.inbound_limit(scope["app"].state.config)
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        if not declared.isdigit() or int(declared) > limit:
            await _too_large(scope, receive, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                raise _TooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await _too_large(scope, receive, send)


class _TooLarge(Exception):
    pass


async def _too_large(scope: Scope, receive: Receive, send: Send) -> None:
    await Response("request body too large", status_code=413, media_type="text/plain")(scope, receive, send)


async def _copies_in_flight_settled(store: SubscriberStore, subscriber_id: int) -> None:
    """Wait until no copy to this subscriber is being handed to the provider.

    A list send re-reads opt-outs at every batch, but a batch claimed just before the opt-out
    committed may still be going out: answering only after it settled means nothing is mailed
    after the answer (docs/serve.md). Bounded, so a slow provider cannot hold the page forever.
    """
    # lazy: loaded when the app is made, not when serve or preview imports this module
    from pain_news.ledger import CampaignLedger

    ledger = CampaignLedger.for_store(store)
    since = dt.datetime.now(dt.UTC) - STALE_CLAIM
    deadline = time.monotonic() + IN_FLIGHT_WAIT
    while await run_in_threadpool(ledger.in_flight_for, subscriber_id, since=since):
        if time.monotonic() > deadline:
            log.warning("unsubscribe answered while a copy was still in flight after %.0f s", IN_FLIGHT_WAIT)
            return
        await asyncio.sleep(0.05)


def create_app(
    config: Config,
    store: SubscriberStore,
    signups: SignupQueue | None = None,
    welcomes: WelcomeQueue | None = None,
) -> Starlette:
    """The web app for `pain-news serve`, bound to one config and store."""
    # lazy: loaded when the app is made, not when serve or preview imports this module
    from pain_news import links
    from pain_news.sendgrid import webhook
    from pain_news.subscribers import signup

    welcomes = welcomes or WelcomeQueue(config, store)

    common = {"newsletter_name": config.newsletter.name, "footer_text": _footer(config)}
    redact_server_log()  # the webhook's messages too: the log names no address
    signups = signups or SignupQueue(config, store)
    client_limit = ClientLimit(config.serve.signups_per_client_per_hour)
    proxies = networks(config.serve.trusted_proxies)

    def show(name: str, status: int = 200, **context: Any) -> HTMLResponse:
        return page(name, status_code=status, headers=HEADERS, **common, **context)

    def problem(exc: PainNewsError, status: int) -> HTMLResponse:
        title = "This link does not work" if isinstance(exc, InvalidToken) else "Something is not right"
        hint = opt_out_hint(config.newsletter.inbound_domain, config.newsletter.phone)
        return show("error.html", status, title=title, message=exc.message, hint=exc.hint or hint)

    def refuse(status: int, message: str, hint: str) -> HTMLResponse:
        return show("error.html", status, title="Something is not right", message=message, hint=hint)

    async def subscriber_for(request: Request) -> tuple[int | None, Any] | HTMLResponse:
        """(campaign, subscriber) the link names, or the error page for a bad or orphaned link."""
        try:
            sid, campaign = links.read_token(
                config.secrets.verification_keys or config.secrets.secret_key, request.path_params["token"]
            )
        except InvalidToken as exc:
            return problem(exc, 400)
        if sid == SAMPLE_SUBSCRIBER_ID:  # the link in a "[TEST]" copy (pain_news/campaign/proofs.py)
            return show(
                "error.html",
                title="This is a test copy",
                message="This unsubscribe link comes from a test copy of the newsletter: it names no "
                "subscriber, so nothing was changed.",
                hint="In the newsletter sent to the list, this link unsubscribes the reader it was sent to.",
            )
        record = await run_in_threadpool(store.get, sid)
        if record is None:
            return problem(InvalidToken("this link names a subscriber we no longer have"), 404)
        return campaign, record

    async def unsubscribe_page(request: Request) -> Response:
        found = await subscriber_for(request)
        if isinstance(found, HTMLResponse):
            return found
        return show("unsubscribe.html", done=False, email=found[1].email)

    async def unsubscribe_post(request: Request) -> Response:
        found = await subscriber_for(request)
        if isinstance(found, HTMLResponse):
            return found
        campaign, record = found
        form = await _form(request)
        # RFC 8058: mail clients post "List-Unsubscribe=One-Click"; a person presses the button.
        method = "one-click" if form is not None and form.get("List-Unsubscribe") == "One-Click" else "link"
        change = await run_in_threadpool(store.unsubscribe, record.id, method, campaign)
        await _copies_in_flight_settled(store, record.id)
        return show(
            "unsubscribe.html",
            done=True,
            changed=change.changed,
            email=record.email,
            subscribe_url=request.url_for("subscribe").path,
        )

    def signup_form(
        request: Request,
        status: int = 200,
        error: str = "",
        email: str = "",
        first_name: str = "",
        chosen: tuple[str, ...] | None = None,
    ) -> Response:
        return show(
            "subscribe.html",
            status,
            action=request.url_for("subscribe").path,
            email=email,
            first_name=first_name,
            topics=config.topics,
            chosen=config.serve.signup_topics if chosen is None else chosen,
            error=error,
            sent=False,
            honeypot=HONEYPOT,
            organisation=config.newsletter.from_name or config.newsletter.name,
        )

    async def subscribe(request: Request) -> Response:
        """The form; a POST answers the same page for every valid address (who is listed never shows)."""
        if request.method == "GET":
            return signup_form(request)
        form = await _form(request)  # first: BodyLimit must see an oversized body (413)
        if not same_origin(request, config.newsletter.public_url):
            return refuse(
                403,
                "This form can only be sent from our own signup page.",
                "Open the signup page on our site and send the form from there.",
            )
        email = str(form.get("email", "")).strip()[:320] if form is not None else ""
        first_name = str(form.get("first_name", "")).strip()[:200] if form is not None else ""
        ticked = [str(t) for t in form.getlist("topic")][:50] if form is not None else []
        try:
            email, first_name = signup.validate_signup(email, first_name)  # before any lookup
            topics = signup.validate_topics(config, ticked)
        except StoreError as exc:
            return signup_form(request, 400, exc.message, email, first_name, tuple(ticked))
        if not client_limit.allow(client_address(request, proxies)):
            return refuse(
                429,
                "There were too many signups from your network just now.",
                "Please try again in an hour, or reply to one of our emails and we will help.",
            )
        links.link_base(config)  # misconfigured: the 503 page, nothing queued
        if form is not None and not str(form.get(HONEYPOT, "")):
            signups.submit_signup(email, first_name, topics)
        return show("subscribe.html", email=email, sent=True)

    async def confirm_page(request: Request) -> Response:
        """GET only shows a button: a link scanner opening the link confirms nothing."""
        try:
            ids = signup.read_confirmation(config, request.path_params["token"])
            record = await run_in_threadpool(store.signup_to_confirm, *ids)
        except InvalidToken as exc:
            return problem(exc, 400)
        return show("confirm.html", done=False, email=record.email)

    async def confirm_post(request: Request) -> Response:
        try:
            change = await run_in_threadpool(
                signup.confirm_signup, config, store, request.path_params["token"]
            )
        except InvalidToken as exc:
            return problem(exc, 400)
        if change.subscriber.status == ACTIVE:
            welcomes.submit(change.subscriber.id)  # once ever: the ledger ignores a repeat
        return show(
            "confirm.html",
            done=True,
            email=change.subscriber.email,
            changed=change.changed,
            latest_url=_latest_issue_url(config),
            welcome=change.changed and (config.welcome_dir / "issue.toml").is_file(),
        )

    async def sendgrid_events(request: Request) -> Response:
        body = await request.body()
        try:
            webhook.verify(
                config,
                body,
                request.headers.get(webhook.SIGNATURE_HEADER),
                request.headers.get(webhook.TIMESTAMP_HEADER),
                dt.datetime.now(dt.UTC),
            )
            events = webhook.parse(body)
        except WebhookRejected as exc:
            return JSONResponse({"error": exc.message}, status_code=exc.status)
        summary = await run_in_threadpool(webhook.apply_events, store, events)
        return JSONResponse(
            {
                "applied": summary.applied,
                "recorded": summary.recorded,
                "repeated": summary.repeated,
                "skipped": summary.skipped,
            }
        )

    async def home(request: Request) -> Response:
        return RedirectResponse(request.url_for("subscribe").path, status_code=303)

    routes: list[BaseRoute] = [
        Route("/unsubscribe/{token}", unsubscribe_page, methods=["GET"]),
        Route("/unsubscribe/{token}", unsubscribe_post, methods=["POST"]),
        Route("/subscribe", subscribe, methods=["GET", "POST"], name="subscribe"),
        Route("/confirm/{token}", confirm_page, methods=["GET"]),
        Route("/confirm/{token}", confirm_post, methods=["POST"]),
        Route("/webhooks/sendgrid", sendgrid_events, methods=["POST"]),
        Route(inbound.PREFIX + "{secret}", inbound.inbound_parse, methods=["POST"]),
        *preference_routes(config, store, show, problem, _form),
    ]
    archive = config.resolve(config.build.archive_out)
    if (archive / "index.html").is_file():
        # One address for everything under public_url: the archive that `pain-news archive` wrote
        # (index, /<issue>/, /latest/, feed.xml, images) is served beside the endpoints.
        routes.append(Mount("/", app=StaticFiles(directory=archive, html=True), name="archive"))
    else:
        routes.insert(0, Route("/", home))

    async def unavailable(request: Request, exc: Exception) -> Response:
        """Misconfiguration or a database/provider failure: a friendly 503, details in the server log."""
        detail = exc.message if isinstance(exc, PainNewsError) else type(exc).__name__  # never SQL parameters
        log.error("%s %s failed: %s", request.method, request.url.path.split("/")[1], redact(detail))
        if request.url.path.startswith("/webhooks/"):  # SendGrid retries a batch that got a 5xx
            return JSONResponse({"error": "temporarily unavailable"}, status_code=503)
        return show(
            "error.html",
            503,
            title="Temporarily unavailable",
            message="This page cannot be shown right now.",
            hint="Please try again in a few minutes, or reply to our email and we will help.",
        )

    async def not_found(request: Request, exc: Exception) -> Response:
        """An unknown address gets a real page (title, language, heading), not Starlette's plain text."""
        return show(
            "error.html",
            404,
            title="Page not found",
            message="There is no page at this address.",
            hint="Check the link in the email, or reply to it and we will help.",
        )

    # Database errors reach here as StoreError: the store layer converts them (db.store_errors).
    app = Starlette(
        routes=routes,
        exception_handlers={404: not_found, PainNewsError: unavailable},
        lifespan=_closing(signups, welcomes),
    )
    app.add_middleware(BodyLimit)
    app.add_middleware(SecurityHeaders)  # outermost: also on 413 answers and error pages
    app.state.signups = signups
    app.state.welcomes = welcomes
    app.state.config, app.state.store = config, store  # read by the handlers in web/inbound.py
    return app


def _closing(signups: SignupQueue, welcomes: WelcomeQueue) -> Any:
    """Lifespan: stop the signup and welcome workers (after the one in hand) when the server stops."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await run_in_threadpool(signups.close)
        await run_in_threadpool(welcomes.close)

    return lifespan


def _latest_issue_url(config: Config) -> str:
    """The archive's newest issue (`<public_url>/latest/`), or "" when no archive is built."""
    archive = config.resolve(config.build.archive_out)
    if not (archive / "latest" / "index.html").is_file():
        return ""
    base = config.newsletter.public_url.rstrip("/")
    return f"{base}/latest/" if base else "/latest/"


async def _form(request: Request) -> FormData | None:
    """The urlencoded or multipart form, or None for any other (or broken) body."""
    kind = request.headers.get("content-type", "")
    if not kind.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        return None
    try:
        return await request.form(max_files=0, max_fields=20)
    except _TooLarge:  # BodyLimit must see it to answer 413
        raise
    except Exception:  # a malformed multipart body is the sender's problem, not a crash
        return None


def _footer(config: Config) -> str:
    parts = [config.newsletter.clinic, config.newsletter.postal_address]
    return " · ".join(p for p in parts if p)
