"""What `serve` does against abuse: security headers on every response, body size limits, the
client's address behind a trusted proxy, a per-client signup limit and an Origin/Referer check
(docs/security.md). Each is written once here; handlers in web/routes/ call them.
"""

from __future__ import annotations

import ipaddress
import time
from collections import deque
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Tokens are in the URL: never send them to other sites through Referer ("same-origin" still lets
# the browser name our own origin on the signup POST, which the Origin check needs).
SECURITY_HEADERS = {
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'none'; img-src 'self' https: data:; style-src 'unsafe-inline'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
}
ATOM = "application/atom+xml; charset=utf-8"
FORM_LIMIT = 16 * 1024  # a signup or unsubscribe form is a few hundred bytes
WEBHOOK_LIMIT = 5 * 1024 * 1024  # SendGrid posts batches of events
INBOUND_PREFIX = "/webhooks/inbound/"  # whole emails (web/routes/inbound.py): serve.inbound_max_bytes


class HttpMiddleware:
    """Pure ASGI middleware that acts on HTTP requests only (`http`); lifespan events pass through."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.http(scope, receive, send)

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError


class SecurityHeaders(HttpMiddleware):
    """Adds SECURITY_HEADERS to every response (pages, archive files, errors); the feed is Atom."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        feed = scope["path"].endswith("/feed.xml")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
                if feed and message["status"] == 200:
                    headers["Content-Type"] = ATOM
            await send(message)

        await self.app(scope, receive, with_headers)


LOOPBACK_HOSTS = (
    "localhost",
    "127.0.0.1",
    "[::1]",
)  # this machine, without a proxy (IPv6 in brackets, as in Host)


def allowed_hosts(configured: Sequence[str], public_url: str) -> list[str]:
    """The Host names serve answers to: serve.allowed_hosts, else public_url's host and loopback.
    Any other Host is refused (400), so nothing a stranger writes there reaches a page or a link."""
    if configured:
        return [host.lower() for host in configured]
    public_host = urlsplit(public_url).hostname
    return [*([public_host] if public_host else []), *LOOPBACK_HOSTS]


class PublicRedirects(HttpMiddleware):
    """Redirects point under public_url, never at the Host header the request carried: Starlette
    builds a redirect's absolute URL from the request (the archive's /<issue> → /<issue>/, a route's
    trailing slash), and a Host a proxy passed on unchecked would send readers elsewhere."""

    def __init__(self, app: ASGIApp, public_url: str) -> None:
        super().__init__(app)
        self.base = public_url.rstrip("/")

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        host = dict(scope["headers"]).get(b"host", b"").decode("latin-1")

        async def rebased(message: Message) -> None:
            if message["type"] == "http.response.start" and 300 <= message["status"] < 400:
                headers = MutableHeaders(scope=message)
                location = urlsplit(headers.get("location", ""))
                if location.netloc == host and host:  # made from the request (relative ones are ours)
                    target = location.path + (f"?{location.query}" if location.query else "")
                    headers["location"] = self.base + target
            await send(message)

        await self.app(scope, receive, rebased)


class BodyLimit(HttpMiddleware):
    """Answers 413 to bodies over the route's limit, whether Content-Length says so or not."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = WEBHOOK_LIMIT if scope["path"].startswith("/webhooks/") else FORM_LIMIT
        if scope["path"].startswith(INBOUND_PREFIX):  # the app's WebState (web/context.py) holds the config
            limit = scope["app"].state.web.config.serve.inbound_max_bytes
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
                raise BodyTooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except BodyTooLarge:
            await _too_large(scope, receive, send)


class BodyTooLarge(Exception):
    """Raised while a handler reads a body past the limit; BodyLimit answers 413 for it."""


async def _too_large(scope: Scope, receive: Receive, send: Send) -> None:
    await Response("request body too large", status_code=413, media_type="text/plain")(scope, receive, send)


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def client_address(request: Request, trusted: Sequence[Network]) -> str:
    """The client's address: the peer, or, when the peer is a trusted proxy, the nearest
    X-Forwarded-For entry that is not itself a trusted proxy (entries further left are the
    client's own claims and can be forged)."""
    peer = request.client.host if request.client else ""
    if not trusted or not _within(peer, trusted):
        return peer
    forwarded = [part.strip() for part in request.headers.get("x-forwarded-for", "").split(",")]
    for hop in reversed([part for part in forwarded if part]):
        if not _within(hop, trusted):
            return hop
    return peer


def _within(address: str, networks: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def networks(proxies: Sequence[str]) -> list[Network]:
    """serve.trusted_proxies as networks (config.py has already checked their spelling)."""
    return [ipaddress.ip_network(proxy, strict=False) for proxy in proxies]


class ClientLimit:
    """At most `limit` signups per client address in a sliding hour (kept in memory)."""

    WINDOW = 3600.0
    MAX_CLIENTS = 100_000  # bounded memory under a flood from many addresses

    def __init__(self, limit: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.clock = limit, clock
        self.seen: dict[str, deque[float]] = {}

    def allow(self, client: str) -> bool:
        """Count one signup from `client`; False when it is over the limit."""
        now = self.clock()
        stamps = self.seen.setdefault(client_key(client), deque())
        while stamps and stamps[0] <= now - self.WINDOW:
            stamps.popleft()
        if len(stamps) >= self.limit:
            return False
        stamps.append(now)
        if len(self.seen) > self.MAX_CLIENTS:
            self._forget_idle(now)
        return True

    def _forget_idle(self, now: float) -> None:
        for client in [c for c, s in self.seen.items() if not s or s[-1] <= now - self.WINDOW]:
            del self.seen[client]
        while len(self.seen) > self.MAX_CLIENTS:  # still full: drop the oldest entries
            del self.seen[next(iter(self.seen))]


IPV6_CLIENT_PREFIX = 64  # one customer's allocation: a /64 holds 2**64 addresses that cost nothing


def client_key(client: str) -> str:
    """Whom the per-client limit counts: an IPv4 address itself, an IPv6 address by its /64
    (anyone holding one address holds the whole /64, so counting addresses would not limit them)."""
    try:
        ip = ipaddress.ip_address(client)
    except ValueError:
        return client
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:  # ::ffff:192.0.2.1 is the IPv4 client 192.0.2.1
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/{IPV6_CLIENT_PREFIX}", strict=False))
    return str(ip)


def same_origin(request: Request, public_url: str) -> bool:
    """True when the form was posted from one of our own pages (Origin, else Referer): under
    public_url, or on the address the request came to (serve without a proxy in front)."""
    expected = {_origin(public_url), _origin(str(request.base_url))} - {""}
    origin = request.headers.get("origin")
    if origin is not None and origin != "null":
        return _origin(origin) in expected
    referer = request.headers.get("referer")
    return referer is not None and _origin(referer) in expected


def _origin(url: str) -> str:
    parts = urlsplit(url.strip())
    if not parts.scheme or not parts.hostname:
        return ""
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    try:
        port = parts.port
    except ValueError:
        return ""
    netloc = parts.hostname.lower() + (f":{port}" if port and port != default else "")
    return f"{parts.scheme.lower()}://{netloc}"
