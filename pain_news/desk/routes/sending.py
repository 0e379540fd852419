"""Approve and send: ask a reviewer, send a test to herself, every gate in plain words, then the list
send or schedule (after a confirmation naming the number of recipients) with its progress, and the
report. Each goes through the functions `approve`, `send` and `report` call."""

from __future__ import annotations

import datetime as dt
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from pain_news.campaign import SendOptions, prepare_send, send_test
from pain_news.campaign.report import CampaignReport, campaign_report, find_campaign
from pain_news.campaign.schedule import cancel_send
from pain_news.config.clock import clinic_zone, parse_when
from pain_news.config.settings import PROVIDERS
from pain_news.desk.board import is_scheduled
from pain_news.desk.state import DeskState, desk_state, show
from pain_news.errors import ConfigError, DeliveryError, NotFound, PainNewsError, SendRefused
from pain_news.ledger import CampaignLedger, CampaignRecord
from pain_news.publish.archive import build_archive
from pain_news.signoff.approve import approval_status, request_review
from pain_news.vocab import LEDGER_UNCERTAIN
from pain_news.web.archive_pages import index_page


def uncertain_sentence(n: int) -> str:
    """What "uncertain" means, and the choice, in one sentence."""
    return (
        f"{n} {'person' if n == 1 else 'people'} may or may not have received the issue, because the "
        "provider stopped answering before it confirmed: send to them again (a few may get it twice) "
        "or leave them (a few may never get it)."
    )


def _gates(state: DeskState, name: str, resend_uncertain: bool = False) -> dict[str, Any]:
    """The list send's gates as a dry run sees them: each refusal with its fix, or the plan."""
    options = SendOptions(dry_run=True, resend_uncertain=resend_uncertain)
    try:
        prepared = prepare_send(state.config, state.store, state.issue_dir(name), options)
    except SendRefused as refused:
        return {"refusals": [(str(r), r.hint or "") for r in refused.refusals], "plan": None}
    except PainNewsError as exc:
        return {"refusals": [(str(exc), exc.hint or "")], "plan": None}
    return {"refusals": [], "plan": prepared.plan}


def _uncertain(state: DeskState, name: str) -> int:
    try:
        campaign = find_campaign(state.store, issue=name)
    except NotFound:
        return 0
    return campaign_report(state.store, campaign).ledger.get(LEDGER_UNCERTAIN, 0)


async def send_page(request: Request, notice: str = "", status: int = 200) -> Response:
    """Everything before a list send, on one page."""
    state = desk_state(request)
    name = request.path_params["name"]
    folder = state.issue_dir(name)
    approval = await run_in_threadpool(approval_status, state.config, state.store, folder)
    gates = await run_in_threadpool(_gates, state, name)
    uncertain = await run_in_threadpool(_uncertain, state, name)
    latest = await run_in_threadpool(CampaignLedger.for_store(state.store).latest, name)
    resend = await run_in_threadpool(_gates, state, name, True) if uncertain else {"plan": None}
    return show(
        request,
        "send.html",
        status,
        name=name,
        approval=approval,
        approval_problem=approval.problem(clinic_zone(state.config)),
        reviewers=state.config.reviewers,
        test_to=(state.config.delivery.test_recipients or [""])[0],
        provider=state.config.delivery.provider,
        providers=PROVIDERS,
        zone=state.config.newsletter.timezone,
        scheduled=is_scheduled(latest, dt.datetime.now(dt.UTC)),
        resend_plan=resend["plan"],
        uncertain=uncertain,
        uncertain_text=uncertain_sentence(uncertain) if uncertain else "",
        notice=notice,
        job=state.jobs.get(name),
        needs_archive=any("is not published" in line for line in _said_lines(gates)),
        **gates,
    )


async def ask_review(request: Request) -> Response:
    """Mail the chosen reviewer the [REVIEW] copy with its approve button (`approve --request`)."""
    state = desk_state(request)
    form = await request.form()
    key = str(form.get("reviewer", ""))
    folder = state.issue_dir(request.path_params["name"])
    try:
        sent = await run_in_threadpool(
            request_review, state.config, state.store, folder, key, dt.datetime.now(dt.UTC)
        )
    except PainNewsError as exc:
        return await send_page(request, _said(exc), 400)
    until = state.when(sent.request.expires_at)
    return await send_page(
        request,
        f"Sent a review copy to {sent.reviewer.name} <{sent.reviewer.email}>; its link works once, until {until}.",
    )


async def test_send(request: Request) -> Response:
    """A "[TEST]" copy to the address given (`send --test --to`)."""
    state = desk_state(request)
    form = await request.form()
    to = str(form.get("to", "")).strip()
    folder = state.issue_dir(request.path_params["name"])
    try:
        sent = await run_in_threadpool(
            send_test, state.config, state.store, folder, [to] if to else [], _provider(form.get("provider"))
        )
    except PainNewsError as exc:
        return await send_page(request, _said(exc), 400)
    skipped = "".join(
        f" Skipped {a}: {why} (opted-out addresses are never mailed)." for a, why in sent.skipped
    )
    return await send_page(request, f"Test sent to {', '.join(sent.sent)}.{skipped}")


async def list_send(request: Request) -> Response:
    """The list send or schedule, only when the confirmed number of recipients is still the number."""
    state = desk_state(request)
    name = request.path_params["name"]
    form = await request.form()
    try:
        options = SendOptions(
            at=parse_when(str(form["at"]), state.config) if form.get("at") else None,
            resend_uncertain=form.get("resend_uncertain") == "1",
            provider=_provider(form.get("provider")),
        )
        prepared = await run_in_threadpool(_prepare, state, name, options)
    except PainNewsError as exc:
        return await send_page(request, _said(exc), 400)
    confirmed = str(form.get("confirm_count", ""))
    if confirmed != str(prepared.plan.to_send):
        return await send_page(
            request,
            f"Not sent: the number of recipients is now {prepared.plan.to_send} (you confirmed {confirmed or 'none'}); "
            "check the plan below and confirm again.",
            409,
        )
    state.jobs.start(state.config, state.store, prepared)
    return RedirectResponse(f"/issues/{name}/progress", 303)


def _prepare(state: DeskState, name: str, options: SendOptions) -> Any:
    # lazy: the SendGrid modules load only when a send drains queued opt-outs first (as `send` does)
    from pain_news.sendgrid.withdraw import drain_withdrawals

    try:
        drain_withdrawals(state.config, state.store)
    except (ConfigError, DeliveryError):
        pass  # the queue keeps them; `send` only warns too
    return prepare_send(state.config, state.store, state.issue_dir(name), options)


async def cancel(request: Request) -> Response:
    """`send --cancel`: the scheduled send withdrawn at SendGrid (until 10 minutes before its time)."""
    state = desk_state(request)
    name = request.path_params["name"]
    state.issue_dir(name)
    try:
        result = await run_in_threadpool(
            cancel_send, state.config, state.store, name, dt.datetime.now(dt.UTC)
        )
    except PainNewsError as exc:
        return await send_page(request, _said(exc), 400)
    return await send_page(request, " ".join(result.lines()))


async def publish(request: Request) -> Response:
    """`pain-news archive`: the web version and images where public_url serves them (a gate checks)."""
    state = desk_state(request)
    state.issue_dir(request.path_params["name"])
    try:
        result = await run_in_threadpool(build_archive, state.config, None, index_page=index_page)
    except PainNewsError as exc:
        return await send_page(request, _said(exc), 400)
    return await send_page(request, result.summary_line())


async def progress_page(request: Request) -> Response:
    state = desk_state(request)
    name = request.path_params["name"]
    state.issue_dir(name)
    return show(request, "progress.html", name=name, job=state.jobs.get(name))


async def progress(request: Request) -> Response:
    state = desk_state(request)
    job = state.jobs.get(request.path_params["name"])
    data: dict[str, Any] = job.as_dict() if job is not None else {"finished": True, "missing": True}
    if job is not None and job.uncertain:
        data["uncertain_text"] = uncertain_sentence(job.uncertain)
    return JSONResponse(data, headers={"Cache-Control": "no-store"})


async def report_page(request: Request) -> Response:
    """`pain-news report` for the issue's newest campaign."""
    state = desk_state(request)
    name = request.path_params["name"]
    state.issue_dir(name)
    try:
        campaign = await run_in_threadpool(find_campaign, state.store, issue=name)
    except NotFound:
        return show(request, "report.html", name=name, lines=[], uncertain_text="")
    report = await run_in_threadpool(_report, state, campaign)
    uncertain = report.ledger.get(LEDGER_UNCERTAIN, 0)
    return show(
        request,
        "report.html",
        name=name,
        lines=list(report.lines()),
        uncertain_text=uncertain_sentence(uncertain) if uncertain else "",
    )


async def report_charts(request: Request) -> Response:
    """`pain-news report --html` for the issue's newest campaign: the same self-contained page."""
    state = desk_state(request)
    name = request.path_params["name"]
    state.issue_dir(name)
    campaign = await run_in_threadpool(find_campaign, state.store, issue=name)  # NotFound: the 404 page
    report = await run_in_threadpool(_report, state, campaign)
    # lazy: the charting library loads only for this page (about 0.6 s)
    from pain_news.campaign.report_page import render_report_page

    page = await run_in_threadpool(render_report_page, report, state.config.delivery)
    # The page is self-contained: its styles and charts are inline, it runs no script.
    return HTMLResponse(page, headers={"Content-Security-Policy": REPORT_PAGE_POLICY})


REPORT_PAGE_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


def _report(state: DeskState, campaign: CampaignRecord) -> CampaignReport:
    config = state.config
    return campaign_report(state.store, campaign, zone=clinic_zone(config), limits=config.delivery)


def _said_lines(gates: dict[str, Any]) -> list[str]:
    """Every refusal and warning of the gates, as text."""
    plan = gates["plan"]
    return [message for message, _ in gates["refusals"]] + list(plan.warnings if plan else ())


def _provider(chosen: object) -> str | None:
    """The provider picked on the page (`send --provider`); None keeps delivery.provider."""
    return chosen if isinstance(chosen, str) and chosen in PROVIDERS else None


def _said(exc: PainNewsError) -> str:
    return f"{exc}" + (f" What to do: {exc.hint}" if exc.hint else "")
