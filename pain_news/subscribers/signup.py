"""Signup with double opt-in: validate, record the request, mail a confirmation link, activate on POST.

The web form answers the same page whatever the address is; recording and mailing happen off the
request path (web/signups.py), so neither the answer nor its timing tells who is on the list.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pain_news import i18n, links
from pain_news.config.topics import normalize_topics
from pain_news.delivery import send_transactional
from pain_news.errors import InvalidToken, StoreError, TopicError
from pain_news.i18n import N_, SOURCE_LANGUAGE
from pain_news.subscribers.store import MAX_NAME, check_email, check_text

if TYPE_CHECKING:
    from pain_news.config.settings import Config
    from pain_news.subscribers.store import Change, SubscriberStore


@dataclass(frozen=True)
class Confirmation:
    """A confirmation email ready to send (addresses and links: never logged)."""

    to: str
    subject: str
    text: str
    html: str


def validate_signup(email: str, first_name: str) -> tuple[str, str]:
    """(address, first name) cleaned; StoreError naming the bad field. Looks nothing up."""

    return check_email(email), check_text("first name", first_name, MAX_NAME)


def validate_topics(config: Config, chosen: list[str]) -> tuple[str, ...] | None:
    """The topics ticked on a form, sorted; None when config offers none. StoreError for
    a key config does not declare (a form posted from somewhere else)."""
    if not config.topics:
        return None
    try:
        return normalize_topics(chosen, config.topic_keys)
    except TopicError as exc:
        raise StoreError(exc.message) from None


def request_signup(
    config: Config,
    store: SubscriberStore,
    email: str,
    first_name: str = "",
    topics: tuple[str, ...] | None = None,
    language: str = SOURCE_LANGUAGE,
) -> Confirmation | None:
    """Record a signup; the confirmation email to send, or None when nobody is to be mailed.

    None for active, bounced and complained addresses and past the per-address daily limit
    (serve.signups_per_address_per_day). A name given here is stored only on a new row: a third
    party's signup never changes an existing subscriber. The topics chosen (None: the form offered
    none) apply when the person confirms. The email is written in `language` (the signup page's).
    """
    address, first = validate_signup(email, first_name)
    links.link_base(config)  # no link can be made: refuse before anything is written
    request = store.request_signup(
        address,
        first,
        daily_limit=config.serve.signups_per_address_per_day,
        topics=topics,
        # The signup page's language, when the newsletter is written in it; else the default.
        language=language if language in config.languages else config.languages[0],
    )
    if not request.send_confirmation:
        return None
    record = store.get(request.subscriber_id)
    assert record is not None  # just written
    link = links.confirm_url(config, request.subscriber_id, request.request_event_id)
    return _confirmation(config, record.email, record.first_name, link, language)


def _confirmation(config: Config, to: str, first_name: str, link: str, language: str) -> Confirmation:
    """The confirmation email's text and HTML in `language` (pain_news/locale/)."""
    name = config.newsletter.name

    def _(message: str, **values: str) -> str:
        return i18n.translate(language, message, **values)

    greeting = _("Hello %(name)s,", name=first_name) if first_name else _("Hello,")
    ask = _(
        "Please confirm that you want to receive %(newsletter)s by opening this link and pressing the button:",
        newsletter=name,
    )
    short_ask = _("Please confirm that you want to receive %(newsletter)s:", newsletter=name)
    button = _("Yes, subscribe me")
    ignore = _("If you did not ask for this, ignore this email: you will not be added.")
    text, body = link_email(config, language, (greeting, ask, short_ask), link, button, ignore)
    subject = _("Please confirm your subscription to %(newsletter)s", newsletter=name)
    return Confirmation(to=to, subject=subject, text=text, html=body)


def link_email(
    config: Config, language: str, opening: tuple[str, str, str], link: str, button: str, closing: str
) -> tuple[str, str]:
    """(text, HTML) of a short email around one link: `opening` is (greeting, the text part's lead-in,
    the HTML's), then the link (a button in HTML), `closing`, and the sender's name and address."""
    greeting, text_lead, html_lead = opening
    sender, address = config.newsletter.from_name, config.newsletter.postal_address
    text = f"{greeting}\n\n{text_lead}\n\n{link}\n\n{closing}\n\n{sender}\n{address}\n"
    e = html.escape
    body = (
        f'<html lang="{e(language)}"><body>'
        f"<p>{e(greeting)}</p><p>{e(html_lead)}</p>"
        f'<p><a href="{e(link)}">{e(button)}</a></p>'
        f"<p>{e(closing)}</p><p>{e(sender)}<br>{e(address)}</p></body></html>"
    )
    return text, body


def send_confirmation(config: Config, confirmation: Confirmation) -> None:
    """Mail a confirmation through the configured provider; DeliveryError when it did not go."""

    send_transactional(
        config,
        to=confirmation.to,
        subject=confirmation.subject,
        text=confirmation.text,
        html=confirmation.html,
    )


def read_confirmation(config: Config, token: str) -> tuple[int, int]:
    """(subscriber, signup request) a confirmation token names; InvalidToken when bad."""

    subscriber_id, request_event_id = links.read_token(
        config.secrets.verification_keys or config.secrets.secret_key, token, purpose="confirm"
    )
    if request_event_id is None:
        raise InvalidToken(N_("this confirmation link is not valid"))
    return subscriber_id, request_event_id


def confirm_signup(config: Config, store: SubscriberStore, token: str) -> Change:
    """Activate the subscriber a confirmation token names (the person's own POST); InvalidToken when stale."""
    return store.confirm_signup(*read_confirmation(config, token))
