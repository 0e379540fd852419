"""What every `serve` handler shares, written once: the app's state (`request.app.state.web`), the
page helpers, the form reader, and the check that turns a link's token into its subscriber."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse

from pain_news import i18n, links
from pain_news.campaign.personalize import SAMPLE_SUBSCRIBER_ID
from pain_news.errors import InvalidToken, PainNewsError
from pain_news.i18n import N_
from pain_news.web.pages import help_ways, opt_out_hint, page
from pain_news.web.queues import FreshLinkQueue, WelcomeQueue
from pain_news.web.security import BodyTooLarge, ClientLimit, Network, networks
from pain_news.web.signups import SignupQueue

if TYPE_CHECKING:
    from pain_news.config.settings import Config
    from pain_news.subscribers.store import SubscriberRecord, SubscriberStore

# Pages name addresses and carry tokens: never cache them (the security headers come from middleware).
HEADERS = {"Cache-Control": "no-store"}


@dataclass(frozen=True)
class WebState:
    """One app's config, store, background queues and limits; handlers read it with `web(request)`."""

    config: Config
    store: SubscriberStore
    signups: SignupQueue
    welcomes: WelcomeQueue
    client_limit: ClientLimit
    proxies: list[Network]
    fresh_links: FreshLinkQueue
    common: dict[str, str] = field(default_factory=dict)  # what the shared layout shows on every page

    @classmethod
    def create(
        cls,
        config: Config,
        store: SubscriberStore,
        signups: SignupQueue | None = None,
        welcomes: WelcomeQueue | None = None,
    ) -> WebState:
        """The state `create_app` installs; queues are made here unless a caller (a test) passes its own."""
        return cls(
            config=config,
            store=store,
            signups=signups or SignupQueue(config, store),
            welcomes=welcomes or WelcomeQueue(config, store),
            client_limit=ClientLimit(config.serve.signups_per_client_per_hour),
            proxies=networks(config.serve.trusted_proxies),
            fresh_links=FreshLinkQueue(config, store),
            common={"newsletter_name": config.newsletter.name, "footer_text": _footer(config)},
        )


def web(request: Request) -> WebState:
    """The state of the app serving `request` (set by web/app.py's create_app)."""
    state: WebState = request.app.state.web
    return state


def offered_languages() -> tuple[str, ...]:
    """The languages pages are offered in: the source language and each one with a catalogue."""
    return i18n.catalogue_languages()


def page_language(request: Request, subscriber: SubscriberRecord | None = None) -> str:
    """The language of a page: the subscriber's own when the page is for one (once subscribers have a
    language), else the best match for the browser's Accept-Language among the offered languages."""
    own = str(getattr(subscriber, "language", "") or "")
    if own in offered_languages():
        return own
    header = request.headers.get("accept-language")
    return i18n.best_language(header, offered_languages(), i18n.SOURCE_LANGUAGE)


def show(
    request: Request, name: str, status: int = 200, language: str | None = None, **context: Any
) -> HTMLResponse:
    """`templates/<name>` in the shared layout, in `language` (default: the request's), never cached."""
    language = language or page_language(request)
    return page(
        name, status_code=status, headers=HEADERS, language=language, **web(request).common, **context
    )


def problem(request: Request, exc: PainNewsError, status: int, language: str | None = None) -> HTMLResponse:
    """The error page for a bad link (or another error the reader caused), with its hint.

    The message is translated when the catalogue has it (the fixed messages readers meet, marked
    in pain_news/i18n.py's MESSAGES); one carrying a value is shown as written."""
    language = language or page_language(request)
    title = N_("This link does not work") if isinstance(exc, InvalidToken) else N_("Something is not right")
    newsletter = web(request).config.newsletter
    hint = exc.hint or opt_out_hint(newsletter.inbound_domain, newsletter.phone, language)
    return show(
        request,
        "error.html",
        status,
        language,
        title=i18n.translate(language, title),
        message=i18n.translate(language, exc.message),
        hint=i18n.translate(language, hint),
    )


def refuse(request: Request, status: int, message: str, hint: str) -> HTMLResponse:
    """The error page for a request we will not act on (wrong origin, too many signups); `message`
    and `hint` are msgids, translated here (a hint's `%(ways)s`: how to reach the clinic)."""
    return error_page(request, status, N_("Something is not right"), message, hint)


def error_page(request: Request, status: int, title: str, message: str, hint: str) -> HTMLResponse:
    """error.html in the reader's language (the texts are catalogue message ids, marked with N_);
    `%(ways)s` in the hint names only the ways to reach the clinic that work (pages.help_ways)."""
    language = page_language(request)
    return show(
        request,
        "error.html",
        status,
        language,
        title=i18n.translate(language, title),
        message=i18n.translate(language, message),
        hint=i18n.translate(language, hint, ways=help_ways(web(request).config.newsletter, language)),
    )


@dataclass(frozen=True)
class Linked:
    """The subscriber a link names, and the campaign whose email carried it (None: not from a send).

    `weak`: only a previous key shorter than 32 bytes verified the link, so anyone who guessed
    that key could have made it: its pages name no address (docs/security.md)."""

    campaign: int | None
    subscriber: SubscriberRecord
    weak: bool = False

    def language(self, request: Request) -> str:
        """The page's language: the subscriber's own, unless the link may be forged (then the browser's)."""
        return page_language(request) if self.weak else page_language(request, self.subscriber)


async def subscriber_for(request: Request, purpose: str = "unsubscribe") -> Linked | HTMLResponse:
    """The subscriber the path's token names, or the error page for a bad or orphaned link.

    Each purpose has its own tokens (pain_news/links.py), so a preference link never unsubscribes
    and an unsubscribe link never opens the preference page; keys from before a rotation still verify.
    """
    config = web(request).config
    try:
        keys = config.secrets.verification_keys or config.secrets.secret_key
        verified = links.verify_token(keys, request.path_params["token"], purpose=purpose)
    except InvalidToken as exc:
        return problem(request, exc, 400)
    if verified.subscriber_id == SAMPLE_SUBSCRIBER_ID and purpose == "unsubscribe":  # campaign/proofs.py
        return _test_copy(request)
    return await linked_subscriber(request, verified.subscriber_id, verified.campaign_id, verified.weak_key)


async def linked_subscriber(
    request: Request, subscriber_id: int, campaign: int | None, weak_key: str | None = None
) -> Linked | HTMLResponse:
    """The subscriber a verified link names, or the error page when we no longer have them.

    A link verified only by a short previous key (`weak_key`) works only for subscribers who
    existed when that key was retired (subscribers/store/links.py): a guessed key cannot reach
    anyone who joined since."""
    store = web(request).store
    if weak_key is not None and not await run_in_threadpool(
        store.retired_key_reaches, weak_key, subscriber_id
    ):
        return problem(request, InvalidToken(N_("this link is not valid")), 400)
    record = await run_in_threadpool(store.get, subscriber_id)
    if record is None:
        return problem(request, InvalidToken(N_("this link names a subscriber we no longer have")), 404)
    return Linked(campaign, record, weak=weak_key is not None)


def _test_copy(request: Request) -> HTMLResponse:
    """The page for an unsubscribe link from a "[TEST]" copy: it names nobody."""
    language = page_language(request)
    return show(
        request,
        "error.html",
        language=language,
        title=i18n.translate(language, "This is a test copy"),
        message=i18n.translate(
            language,
            "This unsubscribe link comes from a test copy of the newsletter: it names no "
            "subscriber, so nothing was changed.",
        ),
        hint=i18n.translate(
            language,
            "In the newsletter sent to the list, this link unsubscribes the reader it was sent to.",
        ),
    )


async def read_form(request: Request) -> FormData | None:
    """The urlencoded or multipart form, or None for any other (or broken) body."""
    kind = request.headers.get("content-type", "")
    if not kind.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        return None
    try:
        return await request.form(max_files=0, max_fields=20)
    except BodyTooLarge:  # BodyLimit must see it to answer 413
        raise
    except Exception:  # a malformed multipart body is the sender's problem, not a crash
        return None


def form_text(form: FormData | None, name: str, limit: int) -> str:
    """One form field, stripped and cut to `limit` characters ("" when absent or no form)."""
    return str(form.get(name, "")).strip()[:limit] if form is not None else ""


def form_topics(form: FormData | None) -> list[str]:
    """The ticked topic boxes (at most 50: the form offers far fewer)."""
    return [str(t) for t in form.getlist("topic")][:50] if form is not None else []


def _footer(config: Config) -> str:
    parts = [config.newsletter.clinic, config.newsletter.postal_address]
    return " · ".join(p for p in parts if p)
