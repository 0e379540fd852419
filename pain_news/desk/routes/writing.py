"""Writing a piece: the editor page (front matter form, markdown body, findings, live preview),
saving it back to the same file, and adding an image."""

from __future__ import annotations

import html
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from pain_news.desk.drafts import build_draft
from pain_news.desk.frontmatter import FIELDS
from pain_news.desk.images import save_image
from pain_news.desk.sources import PieceSource, SaveConflict, compose, read_piece, save_piece, version_of
from pain_news.desk.state import desk_state, piece_files, show
from pain_news.errors import IssueError, PainNewsError

KINDS = ("article", "spotlight")


async def editor(request: Request) -> Response:
    """The piece in the editor, the findings about it, and the preview beside them."""
    state = desk_state(request)
    name, file = request.path_params["name"], request.path_params["file"]
    path = state.piece_path(name, file)
    saved = "Saved." if request.query_params.get("saved") == "1" else ""
    try:
        source = read_piece(path)
        fields = source.fields()
    except IssueError as exc:  # front matter the form cannot read: the whole file, to fix by hand
        return _whole_file(
            request, path, f"{saved} The form cannot show this piece: {exc.message}. Fix it below."
        )
    return await _page(request, source, fields, source.body, saved, 200)


async def _page(
    request: Request, source: PieceSource, fields: dict[str, str], body: str, notice: str, status: int
) -> Response:
    state = desk_state(request)
    name = request.path_params["name"]
    folder = state.issue_dir(name)
    snapshot = await run_in_threadpool(state.preview(name).current)
    findings = [
        {
            "finding": f,
            "where": f.where(folder),
            "here": f.path is not None and f.path.resolve() == source.path.resolve(),
            "file": f.path.name if f.path is not None and f.path.parent.resolve() == folder.resolve() else "",
        }
        for f in snapshot.report.findings
    ]
    return show(
        request,
        "editor.html",
        status,
        name=name,
        file=source.path.name,
        pieces=piece_files(folder),
        source=source,
        fields=fields,
        body=body,
        kinds=KINDS,
        reviewers=state.config.reviewers,
        findings=findings,
        summary=snapshot.report.summary(),
        notice=notice,
        conflict=status == 409,
    )


async def save(request: Request) -> Response:
    """Write the form and body back to the file (atomically; refused when it changed on disk)."""
    state = desk_state(request)
    name, file = request.path_params["name"], request.path_params["file"]
    path = state.piece_path(name, file)
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    source = read_piece(path)
    opened = form.get("version", "")
    fields = {key: form[key] for key in FIELDS if key in form}
    body = form.get("body", "").replace("\r\n", "\n")
    try:
        data = compose(source, fields, body)
        await run_in_threadpool(save_piece, path, opened, data)
    except SaveConflict as exc:
        conflicted = PieceSource(path, source.front, source.body, opened, source.head, source.close)
        return await _page(request, conflicted, fields, body, f"{exc.message}. {exc.hint}", 409)
    except IssueError as exc:
        return await _page(request, source, fields, body, f"Not saved: {exc}", 400)
    if request.headers.get("accept", "").startswith("application/json"):
        return JSONResponse({"version": read_piece(path).version})
    return RedirectResponse(f"/issues/{name}/pieces/{file}?saved=1", 303)


async def draft(request: Request) -> Response:
    """The editor's unsaved text, built and checked (desk/drafts.py): its findings, and its email
    for the preview frames (email.html?unsaved=1)."""
    state = desk_state(request)
    name, file = request.path_params["name"], request.path_params["file"]
    path = state.piece_path(name, file)
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    fields = {key: form[key] for key in FIELDS if key in form}
    try:
        data = compose(read_piece(path), fields, form.get("body", "").replace("\r\n", "\n"))
    except IssueError as exc:
        return JSONResponse({"problem": str(exc), "findings": [], "summary": ""})
    built = await run_in_threadpool(build_draft, state.config, state.issue_dir(name), file, data)
    unbuilt = f"<p>{html.escape(f'The issue does not build: {built.problem}')}</p>"
    state.drafts[name] = built.email_html or unbuilt
    return JSONResponse({"problem": built.problem, "findings": built.findings, "summary": built.summary})


async def add_image(request: Request) -> Response:
    """An image dropped or chosen: resized, compressed, saved under images/; answers its markdown."""
    state = desk_state(request)
    folder = state.issue_dir(request.path_params["name"])
    form = await request.form()
    upload, alt = form.get("image"), form.get("alt")
    if not isinstance(upload, UploadFile) or not isinstance(alt, str):
        return JSONResponse({"error": "choose an image and describe it"}, 400)
    data = await upload.read()
    try:
        saved = await run_in_threadpool(save_image, folder, upload.filename or "image", data, alt)
    except PainNewsError as exc:
        return JSONResponse({"error": str(exc) + (f" ({exc.hint})" if exc.hint else "")}, 400)
    return JSONResponse(
        {"markdown": saved.markdown(alt.strip()), "path": saved.relative, "width": saved.width}
    )


async def settings(request: Request) -> Response:
    """issue.toml as text (subject, preheader, intro, sections), with the same safe save as a piece."""
    state = desk_state(request)
    name = request.path_params["name"]
    saved = "Saved." if request.query_params.get("saved") == "1" else ""
    return _whole_file(request, state.issue_dir(name) / "issue.toml", saved)


async def save_settings(request: Request) -> Response:
    state = desk_state(request)
    name = request.path_params["name"]
    return await _save_whole_file(request, state.issue_dir(name) / "issue.toml", f"/issues/{name}/settings")


async def save_raw(request: Request) -> Response:
    """A piece saved as a whole file (when its front matter cannot be read into the form)."""
    state = desk_state(request)
    name, file = request.path_params["name"], request.path_params["file"]
    path = state.piece_path(name, file)
    return await _save_whole_file(request, path, f"/issues/{name}/pieces/{file}")


def _whole_file(
    request: Request, path: Path, notice: str, text: str | None = None, version: str = "", status: int = 200
) -> Response:
    """A file as one text box (issue.toml, or a piece the form cannot read), saved as pieces are."""
    data = path.read_bytes()
    name = request.path_params["name"]
    is_settings = path.name == "issue.toml"
    return show(
        request,
        "settings.html",
        status,
        name=name,
        file=path.name,
        action=f"/issues/{name}/settings" if is_settings else f"/issues/{name}/pieces/{path.name}/raw",
        is_settings=is_settings,
        text=data.decode("utf-8") if text is None else text,
        version=version or version_of(data),
        notice=notice,
        conflict=status == 409,
    )


async def _save_whole_file(request: Request, path: Path, back: str) -> Response:
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    text, opened = form.get("text", "").replace("\r\n", "\n"), form.get("version", "")
    try:
        await run_in_threadpool(save_piece, path, opened, text.encode())
    except SaveConflict as exc:
        return _whole_file(request, path, f"{exc.message}. {exc.hint}", text, opened, 409)
    return RedirectResponse(f"{back}?saved=1", 303)
