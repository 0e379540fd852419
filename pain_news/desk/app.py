"""The desk's Starlette app: one route table over handlers in desk/routes/, behind the guard
(desk/guard.py) and the security headers. Pages and scripts come from the package only."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pain_news.desk.guard import DeskGuard, DeskSession
from pain_news.desk.routes import issues, sending, subscribers, writing
from pain_news.desk.state import DeskState, show
from pain_news.errors import NotFound, PainNewsError

if TYPE_CHECKING:
    from pain_news.config.settings import Config
    from pain_news.subscribers.store import SubscriberStore

STATIC = Path(__file__).parent / "static"
# Nothing is loaded from outside: scripts, styles and images come from the desk itself (the email
# preview's own remote images aside, which its frame may show).
HEADERS = {
    "Referrer-Policy": "same-origin",  # "no-referrer" would make browsers send `Origin: null` on our own POSTs
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "frame-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
}

ISSUE = "/issues/{name}"
ROUTES: list[BaseRoute] = [
    Route("/", issues.index, methods=["GET"]),
    Route("/issues", issues.create, methods=["POST"]),
    Route(ISSUE, issues.issue_page, methods=["GET"]),
    Route(ISSUE + "/email.html", issues.email_html, methods=["GET"]),
    Route(ISSUE + "/pieces/{file}", writing.editor, methods=["GET"]),
    Route(ISSUE + "/pieces/{file}", writing.save, methods=["POST"]),
    Route(ISSUE + "/pieces/{file}/raw", writing.save_raw, methods=["POST"]),
    Route(ISSUE + "/pieces/{file}/draft", writing.draft, methods=["POST"]),
    Route(ISSUE + "/settings", writing.settings, methods=["GET"]),
    Route(ISSUE + "/settings", writing.save_settings, methods=["POST"]),
    Route(ISSUE + "/images", writing.add_image, methods=["POST"]),
    Route(ISSUE + "/send", sending.send_page, methods=["GET"]),
    Route(ISSUE + "/send", sending.list_send, methods=["POST"]),
    Route(ISSUE + "/cancel", sending.cancel, methods=["POST"]),
    Route(ISSUE + "/archive", sending.publish, methods=["POST"]),
    Route(ISSUE + "/review", sending.ask_review, methods=["POST"]),
    Route(ISSUE + "/test", sending.test_send, methods=["POST"]),
    Route(ISSUE + "/progress", sending.progress_page, methods=["GET"]),
    Route(ISSUE + "/progress.json", sending.progress, methods=["GET"]),
    Route(ISSUE + "/report", sending.report_page, methods=["GET"]),
    Route(ISSUE + "/report/charts", sending.report_charts, methods=["GET"]),
    Route("/subscribers", subscribers.lookup, methods=["GET"]),
    Route("/subscribers/opt-out", subscribers.opt_out, methods=["POST"]),
    Route("/subscribers/import", subscribers.import_preview, methods=["POST"]),
    Mount("/static", StaticFiles(directory=STATIC), name="static"),
    Route(ISSUE + "/{path:path}", issues.asset, methods=["GET"]),  # the email's images/...: last
]


def create_desk_app(config: Config, store: SubscriberStore, session: DeskSession | None = None) -> Starlette:
    """The desk for one project, bound to its config and store."""
    state = DeskState(config, store, session or DeskSession())
    app = Starlette(
        routes=ROUTES,
        middleware=[Middleware(Headers), Middleware(DeskGuard, session=state.session)],
        exception_handlers={NotFound: not_found, PainNewsError: problem},
    )
    app.state.desk = state
    return app


class Headers:
    """The desk's security headers on every response that did not set its own (the email frame)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, with_headers if scope["type"] == "http" else send)


async def not_found(request: Request, exc: Exception) -> Response:
    message = exc.message if isinstance(exc, PainNewsError) else "not found"
    return show(request, "problem.html", 404, title="Not found", message=message, hint="")


async def problem(request: Request, exc: Exception) -> Response:
    """A problem the desk cannot act on (a file it cannot read, a database that is not set up)."""
    assert isinstance(exc, PainNewsError)
    return show(
        request, "problem.html", 400, title="Something needs fixing", message=str(exc), hint=exc.hint or ""
    )
