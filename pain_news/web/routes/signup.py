"""Signup with double opt-in: the form (GET /subscribe), the request (POST), and the emailed
confirmation link (GET shows a button, POST confirms and queues the welcome email).

A valid POST answers the same page, after the same work, for every address: the signup itself is
recorded and mailed by the background queue (web/signups.py), so who is listed never shows.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from pain_news import i18n, links
from pain_news.config.settings import Config
from pain_news.errors import InvalidToken, StoreError
from pain_news.i18n import N_
from pain_news.subscribers import signup
from pain_news.vocab import ACTIVE
from pain_news.web.context import form_text, form_topics, page_language, problem, read_form, refuse, show, web
from pain_news.web.security import client_address, same_origin

HONEYPOT = "website"  # a field people never see nor fill in (subscribe.html); bots fill every field


async def subscribe(request: Request) -> Response:
    """The form; a POST answers the same page for every valid address (who is listed never shows)."""
    if request.method == "GET":
        return _signup_form(request)
    state = web(request)
    form = await read_form(request)  # first: BodyLimit must see an oversized body (413)
    if not same_origin(request, state.config.newsletter.public_url):
        return refuse(
            request,
            403,
            N_("This form can only be sent from our own signup page."),
            N_("Open the signup page on our site and send the form from there."),
        )
    email, first_name = form_text(form, "email", 320), form_text(form, "first_name", 200)
    ticked = form_topics(form)
    try:
        email, first_name = signup.validate_signup(email, first_name)  # before any lookup
        topics = signup.validate_topics(state.config, ticked)
    except StoreError as exc:
        message = i18n.translate(page_language(request), exc.message)
        return _signup_form(request, 400, message, email, first_name, tuple(ticked))
    if not state.client_limit.allow(client_address(request, state.proxies)):
        return refuse(
            request,
            429,
            N_("There were too many signups from your network just now."),
            N_("Please try again in an hour, or %(ways)s, and we will help."),
        )
    links.link_base(state.config)  # misconfigured: the 503 page, nothing queued
    if form is not None and not str(form.get(HONEYPOT, "")):
        state.signups.submit_signup(email, first_name, topics, page_language(request))
    return show(request, "subscribe.html", email=email, sent=True)


async def confirm_page(request: Request) -> Response:
    """GET only shows a button: a link scanner opening the link confirms nothing."""
    state = web(request)
    try:
        record = await run_in_threadpool(
            signup.signup_to_confirm, state.config, state.store, request.path_params["token"]
        )
    except InvalidToken as exc:
        return problem(request, exc, 400)
    return show(
        request, "confirm.html", language=page_language(request, record), done=False, email=record.email
    )


async def confirm_post(request: Request) -> Response:
    """Confirm the signup; a new subscriber's welcome email is queued (once ever: the ledger ignores a repeat)."""
    state = web(request)
    try:
        change = await run_in_threadpool(
            signup.confirm_signup, state.config, state.store, request.path_params["token"]
        )
    except InvalidToken as exc:
        return problem(request, exc, 400)
    if change.subscriber.status == ACTIVE:
        state.welcomes.submit(change.subscriber.id)
    return show(
        request,
        "confirm.html",
        language=page_language(request, change.subscriber),
        done=True,
        email=change.subscriber.email,
        changed=change.changed,
        latest_url=_latest_issue_url(state.config),
        welcome=change.changed and (state.config.welcome_dir / "issue.toml").is_file(),
    )


def _signup_form(
    request: Request,
    status: int = 200,
    error: str = "",
    email: str = "",
    first_name: str = "",
    chosen: tuple[str, ...] | None = None,
) -> Response:
    config = web(request).config
    return show(
        request,
        "subscribe.html",
        status,
        action=request.url_for("subscribe").path,
        email=email,
        first_name=first_name,
        topics=config.topics,
        chosen=config.serve.signup_topics if chosen is None else chosen,
        error=error,
        sent=False,
        honeypot=HONEYPOT,
        organisation=config.newsletter.from_name or config.newsletter.name,
    )


def _latest_issue_url(config: Config) -> str:
    """The archive's newest issue (`<public_url>/latest/`), or "" when no archive is built."""
    archive = config.resolve(config.build.archive_out)
    if not (archive / "latest" / "index.html").is_file():
        return ""
    base = config.newsletter.public_url.rstrip("/")
    return f"{base}/latest/" if base else "/latest/"
