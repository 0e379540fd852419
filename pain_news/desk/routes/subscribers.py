"""Subscribers: look one person up by address (never a list of everyone), unsubscribe or erase a
person who asked by phone (recorded with the staff member's name), import a spreadsheet after a
dry-run preview. The store's own methods and `subscribers import`'s import_file do the work."""

from __future__ import annotations

import datetime as dt
import secrets
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from pain_news.desk.state import desk_state, show
from pain_news.errors import PainNewsError
from pain_news.private_files import create_private_file, write_private
from pain_news.subscribers.importer import import_file
from pain_news.subscribers.store import EventRecord, SubscriberRecord, email_hash

ERASURES = "desk-erasures.log"  # beside the database folder's other private files: who erased, never whom


async def lookup(request: Request, notice: str = "", status: int = 200) -> Response:
    """One person's status and history, by address."""
    state = desk_state(request)
    email = request.query_params.get("email", "").strip()
    record: SubscriberRecord | None = None
    history: list[EventRecord] = []
    if email:
        found = await run_in_threadpool(state.store.get, email)
        if found is not None:
            record, history = await run_in_threadpool(state.store.history, found.id)
    return show(
        request,
        "subscribers.html",
        status,
        email=email,
        record=record,
        history=[(state.when(e.at), e) for e in history],
        notice=notice,
        preview=None,
        upload_id="",
    )


async def opt_out(request: Request) -> Response:
    """Unsubscribe (kept in the person's history with who recorded it) or erase (only a hash is kept)."""
    state = desk_state(request)
    form = await request.form()
    email, staff, action = (str(form.get(k, "")).strip() for k in ("email", "staff", "action"))
    if not staff:
        return await lookup(request, "Give your name: it is recorded with the change.", 400)
    try:
        if action == "erase":
            address = await run_in_threadpool(state.store.delete, email)
            _record_erasure(state.config.root, address, staff)
            return await lookup(
                request, f"Erased {address}: only a hashed address is kept, so no import brings it back."
            )
        change = await run_in_threadpool(
            lambda: state.store.opt_out(
                email, "unsubscribed", "manual", detail=f"asked the clinic; recorded by {staff} in the desk"
            )
        )
    except PainNewsError as exc:
        return await lookup(request, str(exc), 400)
    if not change.changed:
        return await lookup(request, f"{email} was already {change.subscriber.status}: nothing changed.")
    return await lookup(request, f"{email} is now {change.subscriber.status}, recorded by {staff}.")


def _record_erasure(root: Path, address: str, staff: str) -> None:
    """Who erased someone and when; the person appears only as the hash the suppression keeps."""
    log = root / "subscribers" / ERASURES
    create_private_file(log)
    line = f"{dt.datetime.now(dt.UTC).isoformat()} erased {email_hash(address)[:12]} by {staff}\n"
    with log.open("a", encoding="utf-8") as out:
        out.write(line)


async def import_preview(request: Request) -> Response:
    """A spreadsheet (CSV) in: what would change, with nothing saved (`subscribers import --dry-run`)."""
    state = desk_state(request)
    form = await request.form()
    upload, upload_id = form.get("file"), str(form.get("upload_id", ""))
    if isinstance(upload, UploadFile) and upload.filename:
        upload_id = secrets.token_hex(8)
        write_private(state.uploads / f"{upload_id}.csv", await upload.read())
    path = state.uploads / f"{upload_id}.csv" if upload_id.isalnum() else None
    if path is None or not path.is_file():
        return await lookup(request, "Choose a CSV file to import.", 400)
    apply = form.get("apply") == "1"
    try:
        summary = await run_in_threadpool(
            lambda: import_file(
                state.store,
                path,
                known_topics=state.config.topic_keys,
                languages=state.config.languages,
                dry_run=not apply,
            )
        )
    except PainNewsError as exc:
        return await lookup(request, str(exc), 400)
    if apply:
        path.unlink(missing_ok=True)
    return show(
        request,
        "subscribers.html",
        email="",
        record=None,
        history=[],
        notice=("Imported: " if apply else "Nothing saved yet. ") + summary.summary_line(),
        preview=None if apply else summary,
        upload_id="" if apply else upload_id,
    )
