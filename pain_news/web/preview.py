"""The preview web app and its server: the email at two widths, the text part, the inbox line and
`check` findings; `screenshot_issue` runs it for headless Chromium (pain_news/publish/preview.py)."""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from pain_news.config.settings import Config
from pain_news.errors import IssueError, ServerError
from pain_news.issue.loader import local_path
from pain_news.publish.preview import (
    SAMPLE_PREFERENCES,
    SAMPLE_UNSUBSCRIBE,
    SITE,
    WIDTHS,
    PreviewState,
    forced_dark_png,
    screenshot,
)
from pain_news.render.pipeline import force_color_scheme
from pain_news.web.pages import page

NOT_SERVED = "not found: the preview serves only the files the issue uses"


def preview_app(state: PreviewState) -> Starlette:
    """A Starlette app previewing the issue held by `state`."""

    async def index(request: Request) -> HTMLResponse:
        snapshot = state.current()
        return page(
            "preview.html",
            snapshot=snapshot,
            widths=WIDTHS,
            findings=[(f, f.where(state.folder.parent)) for f in snapshot.report.findings],
            newsletter_name=f"Preview: {state.folder.name}",
            footer_text="Pain News preview: sample subscriber values fill the placeholders; nothing is sent.",
        )

    async def version(request: Request) -> JSONResponse:
        return JSONResponse({"version": state.current().version}, headers={"Cache-Control": "no-store"})

    async def email_html(request: Request) -> Response:
        return email_page(state, request.query_params.get("scheme", ""))

    def forced_dark(request: Request) -> Response:
        # Sync: Starlette runs it in a worker thread, where Chromium may take its second.
        return forced_dark_frame(state, request.path_params["width"], str(request.base_url))

    async def email_text(request: Request) -> PlainTextResponse:
        return PlainTextResponse(state.current().email_text, headers={"Cache-Control": "no-store"})

    async def asset(request: Request) -> Response:
        # Only files the issue itself uses, and only inside its folder (content refuses `../` and
        # symlinks out; checked again here), so the server exposes nothing else on disk.
        name = request.path_params["name"]
        path = local_path(state.folder, name) if name in state.current().assets else None
        if path is None or not path.is_file():
            return PlainTextResponse(NOT_SERVED, status_code=404)
        return FileResponse(path)

    async def web_version(request: Request) -> Response:
        snapshot = state.current()
        if request.path_params["slug"] != snapshot.slug or snapshot.email_html is None:
            return PlainTextResponse(NOT_SERVED, status_code=404)
        return HTMLResponse(snapshot.web_html, headers={"Cache-Control": "no-store"})

    async def edition_version(request: Request) -> Response:
        page = edition_page(state, request.path_params["slug"], request.path_params["lang"])
        return await asset(request) if page is None else page  # not an edition: a file (images/...)

    def stand_in(name: str) -> Callable[[Request], Awaitable[Response]]:
        async def handler(request: Request) -> Response:
            return reader_page(state.config, name)

        return handler

    async def archive(request: Request) -> Response:
        built = state.config.resolve(state.config.build.archive_out) / "index.html"
        if built.is_file():
            return FileResponse(built)
        return reader_page(state.config, "archive")

    return Starlette(
        routes=[
            Route("/", index),
            Route("/version", version),
            Route("/issue/email.html", email_html),
            Route("/issue/email.txt", email_text),
            Route("/issue/forced-dark-{width:int}.png", forced_dark),
            Route("/issue/{name:path}", asset),
            # The reader's site as the email's links see it (pain_news/publish/preview.py: SITE).
            Route(f"{SITE}/", archive),
            Route(f"{SITE}/subscribe", stand_in("subscribe")),
            Route(SAMPLE_UNSUBSCRIBE, stand_in("unsubscribe")),
            Route(SAMPLE_PREFERENCES, stand_in("preferences")),
            Route(f"{SITE}/{{slug:str}}/", web_version),
            Route(f"{SITE}/{{slug:str}}/{{lang:str}}/", edition_version),
            Route(f"{SITE}/{{slug:str}}/{{name:path}}", asset),
        ]
    )


def reader_page(config: Config, name: str) -> HTMLResponse:
    """A preview stand-in for a page of the reader's site: what the real one does, marked as a preview."""
    newsletter, sample = config.newsletter, config.sample
    public = newsletter.public_url.rstrip("/")
    pages: dict[str, dict[str, Any]] = {
        "unsubscribe": {
            "heading": f"Unsubscribe from {newsletter.name}?",
            "stands_for": "In a sent email this link is personal: it opens this page for the reader it was sent to.",
            "lines": [
                f"{sample.email} (the sample subscriber) would press a button here to stop every email "
                f"from {newsletter.name}; mail scanners that open the link change nothing.",
            ],
        },
        "preferences": {
            "heading": "Your preferences",
            "stands_for": "In a sent email this link is personal: it opens this page for the reader it was sent to.",
            "lines": [f"For {sample.email} (the sample subscriber)."],
            "form": {
                "email": sample.email,
                "first_name": sample.first_name,
                "topics": config.topics,
                "button": "Save preferences",
            },
        },
        "archive": {
            "heading": "Past issues",
            "stands_for": "This link opens the archive of past issues.",
            "lines": [
                "The archive has no issues yet: pain-news archive writes it "
                f"(into {config.build.archive_out}), and this page then shows it."
            ],
            "link": {"url": f"{public}/", "label": f"The public archive: {public}/"} if public else None,
        },
        "subscribe": {
            "heading": f"Subscribe to {newsletter.name}",
            "stands_for": "This link opens the signup form that pain-news serve answers.",
            "lines": ["A visitor gives an address and a first name, then confirms from the email we send."],
        },
    }
    context = {"lines": [], "form": None, "link": None, **pages[name]}
    return page(
        "preview_page.html",
        newsletter_name=newsletter.name,
        footer_text="Pain News preview: nothing here is sent or saved.",
        **context,
    )


def email_page(state: PreviewState, scheme: str) -> Response:
    """The email for the sample subscriber; `scheme` light or dark: one palette, whatever the OS prefers."""
    snapshot = state.current()
    if snapshot.email_html is None:
        return PlainTextResponse(f"The issue does not build:\n{snapshot.problem}", status_code=500)
    html = (
        force_color_scheme(snapshot.email_html, scheme)
        if scheme in ("light", "dark")
        else snapshot.email_html
    )
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})


def forced_dark_frame(state: PreviewState, width: int, base_url: str) -> Response:
    """The email at `width` as Gmail and Yahoo show it in dark mode (pain_news/publish/preview.py)."""
    if width not in WIDTHS.values():
        return PlainTextResponse(NOT_SERVED, status_code=404)
    snapshot = state.current()
    if snapshot.email_html is None:
        return PlainTextResponse(f"The issue does not build:\n{snapshot.problem}", status_code=500)
    png = state.forced_dark(width, lambda: forced_dark_png(f"{base_url}issue/email.html", width))
    return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})


def edition_page(state: PreviewState, slug: str, language: str) -> Response | None:
    """Another edition's web version (/<issue>/es/), so the links between editions work in the preview."""
    snapshot = state.current()
    page = dict(snapshot.edition_pages).get(language)
    if slug != snapshot.slug or page is None:
        return None
    return HTMLResponse(page, headers={"Cache-Control": "no-store"})


def serve(config: Config, issue_dir: Path, port: int, *, open_browser: bool = False) -> None:
    """Run the preview server on 127.0.0.1 until interrupted."""
    import uvicorn

    state = PreviewState(config, issue_dir)
    # Build once before listening: the first page then answers at once instead of waiting for the
    # first render and the reading-grade dictionary behind an open connection.
    state.current()
    if open_browser:
        import webbrowser

        threading.Timer(1.0, webbrowser.open, args=(f"http://127.0.0.1:{port}/",)).start()
    uvicorn.run(preview_app(state), host="127.0.0.1", port=port, log_level="warning")


@contextmanager
def running(config: Config, issue_dir: Path, port: int = 0) -> Iterator[str]:
    """Run the preview server in a background thread; yields its base URL (port 0 = any free port)."""
    with running_state(PreviewState(config, issue_dir), port) as url:
        yield url


@contextmanager
def running_state(state: PreviewState, port: int = 0) -> Iterator[str]:
    """Run the preview server for `state` in a background thread; yields its base URL."""
    import uvicorn

    state.current()  # built before listening, as `serve` does: the first page answers at once
    server = uvicorn.Server(
        uvicorn.Config(preview_app(state), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, name="pain-news-preview", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise ServerError(f"the preview server did not start on port {port}", hint="try another --port")
        time.sleep(0.02)
    bound = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{bound}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def screenshot_issue(config: Config, issue_dir: Path, out: Path) -> list[Path]:
    """Screenshots of the issue's email; IssueError (exit 1, nothing saved) when the issue does not build."""
    state = PreviewState(config, issue_dir)
    snapshot = state.current()
    if snapshot.email_html is None:
        raise IssueError(
            f"the issue does not build, so there is nothing to photograph: {snapshot.problem}",
            hint=f"pain-news check {issue_dir} lists every problem",
        )
    with running_state(state) as url:
        return screenshot(f"{url}/issue/email.html", out)
