"""The preview web app: the email at two widths, the text part, the inbox line and `check` findings."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from pain_news.content import local_path
from pain_news.preview import WIDTHS, PreviewState
from pain_news.render import force_color_scheme
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
        snapshot = state.current()
        if snapshot.email_html is None:
            return PlainTextResponse(f"The issue does not build:\n{snapshot.problem}", status_code=500)
        scheme = request.query_params.get("scheme", "")  # light or dark: one palette, whatever the OS prefers
        html = (
            force_color_scheme(snapshot.email_html, scheme)
            if scheme in ("light", "dark")
            else snapshot.email_html
        )
        return HTMLResponse(html, headers={"Cache-Control": "no-store"})

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

    return Starlette(
        routes=[
            Route("/", index),
            Route("/version", version),
            Route("/issue/email.html", email_html),
            Route("/issue/email.txt", email_text),
            Route("/issue/{name:path}", asset),
        ]
    )
