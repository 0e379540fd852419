"""Signup with double opt-in: validate, record the request, mail a confirmation link, activate on POST.

The web form answers the same page whatever the address is; recording and mailing happen off the
request path (web/signups.py), so neither the answer nor its timing tells who is on the list.
Anyone can post the form, so nothing typed into it reaches a mailbox before its owner confirms:
the confirmation greets nobody by name, the name waits on the request (store/signups.py), and a
signup nobody confirms is purged after subscribers.pending_purge_days (docs/security.md).
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pain_news import i18n, links
from pain_news.config.topics import normalize_topics
from pain_news.db.models import utcnow
from pain_news.delivery import send_transactional
from pain_news.errors import InvalidToken, StoreError, TopicError
from pain_news.i18n import N_, SOURCE_LANGUAGE
from pain_news.subscribers.store import MAX_NAME, check_email, check_text

if TYPE_CHECKING:
    from pain_news.config.settings import Config
    from pain_news.subscribers.store import Change, Purged, SubscriberRecord, SubscriberStore


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
    (serve.signups_per_address_per_day). The name and topics given here apply only when this
    request is confirmed: a third party's signup never changes a subscriber, nor what the clinic's
    mail says. The email greets nobody by name and is written in `language` (the signup page's).
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
    return _confirmation(config, record.email, link, language)


def _confirmation(config: Config, to: str, link: str, language: str) -> Confirmation:
    """The confirmation email's text and HTML in `language` (pain_news/locale/). It carries no text
    from the form: whoever posted it cannot make the clinic's mail say anything."""
    name = config.newsletter.name

    def _(message: str, **values: str) -> str:
        return i18n.translate(language, message, **values)

    greeting = _("Hello,")
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


def confirm_signup(
    config: Config, store: SubscriberStore, token: str, now: dt.datetime | None = None
) -> Change:
    """Activate the subscriber a confirmation token names (the person's own POST); InvalidToken when
    stale or older than subscribers.pending_purge_days (that signup was purged)."""
    moment = now or utcnow()
    return store.confirm_signup(
        *read_confirmation(config, token), now=moment, since=purge_cutoff(config, moment)
    )


def signup_to_confirm(config: Config, store: SubscriberStore, token: str) -> SubscriberRecord:
    """The subscriber a confirmation token would activate (nothing changes); InvalidToken as confirm_signup."""
    since = purge_cutoff(config, utcnow())
    return store.signup_to_confirm(*read_confirmation(config, token), since=since)


def purge_cutoff(config: Config, now: dt.datetime) -> dt.datetime:
    """Signup requests made before this moment are stale (subscribers.pending_purge_days)."""
    return now - dt.timedelta(days=config.subscribers.pending_purge_days)


def purge_unconfirmed(config: Config, store: SubscriberStore, now: dt.datetime | None = None) -> Purged:
    """Delete signups nobody confirmed within subscribers.pending_purge_days, and the addresses they
    hold; forget the names older unconfirmed requests carried (run by `serve` and `subscribers`)."""
    return store.purge_unconfirmed(purge_cutoff(config, now or utcnow()))
