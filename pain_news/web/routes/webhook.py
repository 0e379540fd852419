"""POST /webhooks/sendgrid: SendGrid's signed event webhook (bounces, spam reports, unsubscribes).

Answers JSON: SendGrid reads only the status (a 5xx makes it retry the batch). The body may be
larger than a form (web/security.py's WEBHOOK_LIMIT applies under /webhooks/).
"""

from __future__ import annotations

import datetime as dt

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from pain_news.errors import WebhookRejected
from pain_news.sendgrid import webhook
from pain_news.web.context import web


async def sendgrid_events(request: Request) -> Response:
    """Verify the signature, parse the batch, apply its events; the counts as JSON."""
    state = web(request)
    body = await request.body()
    try:
        webhook.verify(
            state.config,
            body,
            request.headers.get(webhook.SIGNATURE_HEADER),
            request.headers.get(webhook.TIMESTAMP_HEADER),
            dt.datetime.now(dt.UTC),
        )
        events = webhook.parse(body)
    except WebhookRejected as exc:
        return JSONResponse({"error": exc.message}, status_code=exc.status)
    summary = await run_in_threadpool(webhook.apply_events, state.store, events)
    return JSONResponse(
        {
            "applied": summary.applied,
            "recorded": summary.recorded,
            "repeated": summary.repeated,
            "skipped": summary.skipped,
        }
    )
