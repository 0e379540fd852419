"""The desk's door: loopback only, a token in the opening URL traded for a cookie, and on every
state-changing request the cookie, a CSRF token and the Origin (docs/desk.md, "Safe by construction").

Jupyter's way: `pain-news desk` prints a URL carrying a random token; the first request with it
gets an HttpOnly, SameSite=Strict session cookie and is redirected to the same page without the
token, so the token does not linger in the address bar or history. Host names other than
loopback ones are refused too: a web page cannot reach the desk through DNS rebinding.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, field
from urllib.parse import urlencode

from starlette.datastructures import URL
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pain_news.errors import ServerError

COOKIE = "pain_news_desk"
TOKEN_PARAM = "token"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
BODY_LIMIT = 25 * 1024 * 1024  # a phone photo dropped in; every other form is a few kilobytes
LOOPBACK_NAMES = ("127.0.0.1", "::1", "localhost")
NO_TOKEN = (
    "The desk opens only from the link `pain-news desk` printed (it carries a one-time token). "
    "Copy that whole link into this browser."
)


def refuse_host(host: str) -> None:
    """ServerError unless `host` is a loopback name: the desk changes files and sends email."""
    if host.strip("[]").lower() not in LOOPBACK_NAMES:
        raise ServerError(
            f"--host {host}: the desk listens only on this computer (127.0.0.1, ::1 or localhost), "
            "because anyone who reaches it could send the newsletter",
            hint="run the desk on the computer whose browser you use",
        )


@dataclass(frozen=True)
class DeskSession:
    """The secrets of one running desk: the URL token, the cookie's session id and the CSRF token."""

    token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    session_id: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))

    def opening_url(self, base: str) -> str:
        """The link printed on the desk's first line."""
        return f"{base.rstrip('/')}/?{urlencode({TOKEN_PARAM: self.token})}"

    def has_cookie(self, request: Request) -> bool:
        return _same(request.cookies.get(COOKIE, ""), self.session_id)

    def csrf_ok(self, sent: str) -> bool:
        return _same(sent, self.csrf)


def _same(given: str, expected: str) -> bool:
    return bool(given) and hmac.compare_digest(given.encode(), expected.encode())


def same_origin(request: Request) -> bool:
    """The Origin header names this desk (scheme, loopback host and port of the request)."""
    origin = request.headers.get("origin", "")
    host = request.headers.get("host", "")
    return bool(host) and origin in {f"http://{host}"}


class DeskGuard:
    """ASGI middleware: every request needs the session cookie (or the opening token); every POST also
    our Origin and the CSRF token (header, or the form's field: the body is read here, at most
    BODY_LIMIT bytes, and handed on unchanged), so no handler can forget a check."""

    def __init__(self, app: ASGIApp, session: DeskSession) -> None:
        self.app, self.session = app, session

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        refusal = self.refusal(request)
        if refusal is None and request.method not in SAFE_METHODS:
            body = await _read_body(receive)
            if body is None:
                refusal = PlainTextResponse("Refused: the upload is too large.", 413)
            else:
                receive = _replay(body)
                if not await self._csrf_ok(scope, body):
                    refusal = PlainTextResponse(
                        "Refused: the page's security token is missing; reload the page.", 403
                    )
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def refusal(self, request: Request) -> Response | None:
        """The answer that stops `request` before its body is read, or None when it may go on."""
        host = (request.url.hostname or "").strip("[]").lower()
        if host not in LOOPBACK_NAMES:
            return PlainTextResponse("The desk answers only on 127.0.0.1, ::1 or localhost.", 421)
        token = request.query_params.get(TOKEN_PARAM)
        if token is not None and request.method == "GET":
            if not _same(token, self.session.token):
                return PlainTextResponse(NO_TOKEN, 403)
            return self._enter(request.url)
        if not self.session.has_cookie(request):
            return PlainTextResponse(NO_TOKEN, 403)
        if request.method not in SAFE_METHODS and not same_origin(request):
            return PlainTextResponse("Refused: this request did not come from the desk's own page.", 403)
        return None

    async def _csrf_ok(self, scope: Scope, body: bytes) -> bool:
        request = Request(scope, _replay(body))
        if self.session.csrf_ok(request.headers.get(CSRF_HEADER, "")):
            return True
        kind = request.headers.get("content-type", "")
        if not kind.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            return False
        async with request.form() as form:
            sent = form.get(CSRF_FIELD)
            return isinstance(sent, str) and self.session.csrf_ok(sent)

    def _enter(self, url: URL) -> Response:
        """Trade the opening token for the session cookie and drop the token from the address bar."""
        clean = url.remove_query_params(TOKEN_PARAM)
        response = RedirectResponse(clean.path + (f"?{clean.query}" if clean.query else ""), 303)
        response.set_cookie(COOKIE, self.session.session_id, httponly=True, samesite="strict", path="/")
        return response


async def _read_body(receive: Receive) -> bytes | None:
    """The whole request body, or None past BODY_LIMIT."""
    chunks, size, more = [], 0, True
    while more:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > BODY_LIMIT:
            return None
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive
