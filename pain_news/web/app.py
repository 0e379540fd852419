"""The `serve` app (Starlette): one route table over handlers in web/routes/, one module per family.

Unsubscribe and preference links, signup with double opt-in, SendGrid's event webhook, mail
sent to the newsletter (Inbound Parse), a reviewer's "Approve this version" page and the static archive. Handlers read the config, store and queues from `request.app.state.web`
(web/context.py); shared checks (token → subscriber, same origin, body and signup limits) live
in web/context.py and web/security.py. Every page escapes what it shows (web/pages.py
autoescapes); every response gets the security headers (web/security.py).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from pain_news import i18n
from pain_news.errors import PainNewsError
from pain_news.web.context import WebState, error_page
from pain_news.web.queues import WelcomeQueue, WithdrawalWorker
from pain_news.web.routes import approve, archive, inbound, preferences, signup, unsubscribe, webhook
from pain_news.web.security import BodyLimit, PublicRedirects, SecurityHeaders, allowed_hosts
from pain_news.web.signups import SignupPurge, SignupQueue, redact, redact_server_log

if TYPE_CHECKING:
    from pain_news.config.settings import Config
    from pain_news.subscribers.store import SubscriberStore

log = logging.getLogger("pain_news.web")

# Links only ever change something on POST: mail gateways open every link in a message.
ROUTES: list[BaseRoute] = [
    Route("/unsubscribe/{token}", unsubscribe.unsubscribe_page, methods=["GET"]),
    Route("/unsubscribe/{token}", unsubscribe.unsubscribe_post, methods=["POST"]),
    Route("/unsubscribe/{token}", unsubscribe.unsubscribe_options, methods=["OPTIONS"]),
    Route("/subscribe", signup.subscribe, methods=["GET", "POST"], name="subscribe"),
    Route("/confirm/{token}", signup.confirm_page, methods=["GET"]),
    Route("/confirm/{token}", signup.confirm_post, methods=["POST"]),
    Route("/webhooks/sendgrid", webhook.sendgrid_events, methods=["POST"]),
    Route(inbound.PREFIX + "{secret}", inbound.inbound_parse, methods=["POST"]),
    Route("/preferences/{token}", preferences.preferences_page, methods=["GET"]),
    Route("/preferences/{token}", preferences.preferences_post, methods=["POST"]),
    Route("/approve/{token}", approve.approve_page, methods=["GET"]),
    Route("/approve/{token}", approve.approve_post, methods=["POST"]),
]


def create_app(
    config: Config,
    store: SubscriberStore,
    signups: SignupQueue | None = None,
    welcomes: WelcomeQueue | None = None,
) -> Starlette:
    """The web app for `pain-news serve`, bound to one config and store."""
    redact_server_log()  # the webhook's messages too: the log names no address
    state = WebState.create(config, store, signups, welcomes)
    # Database errors reach `unavailable` as StoreError: the store layer converts them (db.store_errors).
    app = Starlette(
        routes=[*ROUTES, archive.front(config)],  # the archive last: it is mounted at "/"
        exception_handlers={404: not_found, PainNewsError: unavailable},
        lifespan=lifespan,
    )
    hosts = allowed_hosts(config.serve.allowed_hosts, config.newsletter.public_url)
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=hosts, www_redirect=False)
    app.add_middleware(PublicRedirects, public_url=config.newsletter.public_url)
    app.add_middleware(BodyLimit)
    app.add_middleware(SecurityHeaders)  # outermost: also on 413 answers and error pages
    app.state.web = state
    app.state.signups, app.state.welcomes = state.signups, state.welcomes  # what tests wait on
    app.state.fresh_links = state.fresh_links
    # Opt-outs before a scheduled send's time reach SendGrid from here too (sendgrid/withdraw.py).
    app.state.withdrawals = WithdrawalWorker(config, store)
    # Signups nobody confirmed go at start and every hour (subscribers.pending_purge_days).
    app.state.purge = SignupPurge(config, store)
    return app


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    """Start draining the withdrawal queue and purging stale signups; stop the workers (after the
    item in hand) when the server stops."""
    withdrawals: WithdrawalWorker = app.state.withdrawals
    purge: SignupPurge = app.state.purge
    withdrawals.start()
    purge.start()
    yield
    state: WebState = app.state.web
    await run_in_threadpool(state.signups.close)
    await run_in_threadpool(state.welcomes.close)
    await run_in_threadpool(state.fresh_links.close)
    await run_in_threadpool(withdrawals.close)
    await run_in_threadpool(purge.close)


async def unavailable(request: Request, exc: Exception) -> Response:
    """Misconfiguration or a database/provider failure: a friendly 503, details in the server log."""
    detail = exc.message if isinstance(exc, PainNewsError) else type(exc).__name__  # never SQL parameters
    log.error("%s %s failed: %s", request.method, request.url.path.split("/")[1], redact(detail))
    if request.url.path.startswith("/webhooks/"):  # SendGrid retries a batch that got a 5xx
        return JSONResponse({"error": "temporarily unavailable"}, status_code=503)
    return error_page(
        request,
        503,
        i18n.N_("Temporarily unavailable"),
        i18n.N_("This page cannot be shown right now."),
        i18n.N_("Please try again in a few minutes, or %(ways)s, and we will help."),
    )


async def not_found(request: Request, exc: Exception) -> Response:
    """An unknown address gets a real page (title, language, heading), not Starlette's plain text."""
    return error_page(
        request,
        404,
        i18n.N_("Page not found"),
        i18n.N_("There is no page at this address."),
        i18n.N_("Check the link in the email, or %(ways)s, and we will help."),
    )
