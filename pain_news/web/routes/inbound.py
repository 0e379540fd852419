"""POST /webhooks/inbound/<secret>: SendGrid's Inbound Parse — replies, opt-outs by email, bounce reports.

The secret in the path (PAIN_NEWS_INBOUND_SECRET, env only) is what proves the post comes from
the Inbound Parse set-up (docs/serve.md): any other value, or none configured, gets 404. The body
is limited to serve.inbound_max_bytes while it is read (web/security.py's BodyLimit answers 413). A post that is not
an Inbound Parse form gets 400 with nothing applied; a database or provider failure 503, which
SendGrid retries. The same handler as `pain-news inbound` does the work (pain_news/inbound/handle.py).
"""

from __future__ import annotations

import hmac
import logging

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from pain_news.errors import InboundDeferred, InboundRejected
from pain_news.inbound.handle import handle_message
from pain_news.inbound.message import Attachment, attachment_info, raw_from_parse_form
from pain_news.web.context import web
from pain_news.web.security import INBOUND_PREFIX

log = logging.getLogger("pain_news.web")
PREFIX = INBOUND_PREFIX  # the route; its body limit is serve.inbound_max_bytes
MAX_PARTS = 200  # form fields and attachments of one post


async def inbound_parse(request: Request) -> Response:
    """Check the secret, read the form, hand the message to the inbound handler; JSON answers."""
    config, store = web(request).config, web(request).store
    secret = config.secrets.inbound_secret
    given = str(request.path_params.get("secret", ""))
    if not secret or not hmac.compare_digest(given.encode(), secret.encode()):
        return JSONResponse({"error": "not found"}, status_code=404)
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        return JSONResponse(
            {"error": "not an Inbound Parse post (multipart/form-data expected)"}, status_code=400
        )
    try:
        raw, envelope_to = await _message(request, config.serve.inbound_max_bytes)
    except InboundRejected as exc:
        return JSONResponse({"error": exc.message}, status_code=exc.status)
    try:
        handled = await run_in_threadpool(handle_message, config, store, raw, envelope_to=envelope_to)
    except InboundDeferred:
        log.warning("inbound message deferred: database or provider unavailable")
        return JSONResponse({"error": "temporarily unavailable"}, status_code=503)
    return JSONResponse({"action": handled.action, "events": handled.count})


async def _message(request: Request, limit: int) -> tuple[bytes, list[str]]:
    """The raw message and its envelope recipients from the form; InboundRejected (400) when malformed."""
    try:
        form = await request.form(max_files=MAX_PARTS, max_fields=MAX_PARTS, max_part_size=limit)
    except (HTTPException, MultiPartException, ValueError):
        # A broken multipart body is the sender's problem; BodyLimit's own exception (413) passes.
        raise InboundRejected("the body is not a readable multipart form", 400) from None
    fields: dict[str, str] = {}
    files: list[Attachment] = []
    info = attachment_info(str(form.get("attachment-info") or ""))
    for name, value in form.multi_items():
        if isinstance(value, UploadFile):
            described = info.get(name, {})
            kind = str(described.get("type") or value.content_type or "application/octet-stream")
            files.append(
                Attachment(str(described.get("filename") or value.filename or name), kind, await value.read())
            )
        else:
            fields[name] = value
    await form.close()
    return raw_from_parse_form(fields, files)
