"""The issues list, a new issue from the scaffold, one issue's page and its preview files."""

from __future__ import annotations

import datetime as dt
import re

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, RedirectResponse, Response

from pain_news.desk.board import issue_state, issue_states
from pain_news.desk.state import desk_state, piece_files, show
from pain_news.errors import IssueError
from pain_news.issue.loader import local_path
from pain_news.issue.scaffold import new_issue
from pain_news.render.pipeline import force_color_scheme

#: The preview's email page may be framed by the desk's own pages, and shows remote images.
EMAIL_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "SAMEORIGIN",
    "Content-Security-Policy": (
        "default-src 'none'; img-src 'self' https: data:; style-src 'unsafe-inline'; frame-ancestors 'self'"
    ),
}


async def index(request: Request) -> Response:
    """Every issue with its state, and the form for a new one."""
    state = desk_state(request)
    rows = await run_in_threadpool(issue_states, state.config, state.store, dt.datetime.now(dt.UTC))
    return show(request, "issues.html", rows=rows, today=dt.date.today().isoformat(), error="")


async def create(request: Request) -> Response:
    """ "New issue": the scaffold's `new` with a title and a date; opens the new issue."""
    state = desk_state(request)
    form = await request.form()
    title = str(form.get("title", "")).strip()
    try:
        when = dt.date.fromisoformat(str(form.get("date", "")))
        if not title:
            raise IssueError("give the issue a title, e.g. January 2027")
        slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "issue"
        folder = state.config.resolve(state.config.build.issues) / f"{when:%Y-%m}-{slug}"
        await run_in_threadpool(new_issue, folder, title, None, when)
    except ValueError:
        error = "give the issue's date as a date (YYYY-MM-DD)"
    except IssueError as exc:  # OutputError too: a folder that exists already
        error = str(exc)
    else:
        return RedirectResponse(f"/issues/{folder.name}", 303)
    rows = await run_in_threadpool(issue_states, state.config, state.store, dt.datetime.now(dt.UTC))
    return show(request, "issues.html", 400, rows=rows, today=dt.date.today().isoformat(), error=error)


async def issue_page(request: Request) -> Response:
    """One issue: its pieces, where it stands, and what `check` finds."""
    state = desk_state(request)
    name = request.path_params["name"]
    folder = state.issue_dir(name)
    row = await run_in_threadpool(issue_state, state.config, state.store, folder, dt.datetime.now(dt.UTC))
    snapshot = await run_in_threadpool(state.preview(name).current)
    return show(
        request,
        "issue.html",
        name=name,
        row=row,
        pieces=piece_files(folder),
        snapshot=snapshot,
        findings=[(f, f.where(folder)) for f in snapshot.report.findings],
    )


async def email_html(request: Request) -> Response:
    """The email as the sample subscriber gets it, light or dark (the preview's snapshot)."""
    state = desk_state(request)
    name = request.path_params["name"]
    if request.query_params.get("unsaved") == "1" and name in state.drafts:
        return _scheme(state.drafts[name], request.query_params.get("scheme", ""))
    snapshot = await run_in_threadpool(state.preview(name).current)
    if snapshot.email_html is None:
        return PlainTextResponse(f"The issue does not build:\n{snapshot.problem}", 200, headers=EMAIL_HEADERS)
    return _scheme(snapshot.email_html, request.query_params.get("scheme", ""))


def _scheme(html: str, scheme: str) -> Response:
    """The email in one palette (light or dark), whatever the browser prefers."""
    shown = force_color_scheme(html, scheme) if scheme in ("light", "dark") else html
    return HTMLResponse(shown, headers=EMAIL_HEADERS)


async def asset(request: Request) -> Response:
    """A file the issue uses (images/...), only inside its folder, as the preview serves it."""
    state = desk_state(request)
    folder = state.issue_dir(request.path_params["name"])
    path = local_path(folder, request.path_params["path"])
    if path is None or not path.is_file() or path.suffix.lower() not in IMAGE_SUFFIXES:
        return PlainTextResponse("not found: the desk serves only the issue's images", 404)
    return FileResponse(path)


IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".gif", ".webp"}  # no SVG: it can carry script
