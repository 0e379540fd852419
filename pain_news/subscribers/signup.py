"""Signup with double opt-in: validate, record the request, mail a confirmation link, activate on POST.

The web form answers the same page whatever the address is; recording and mailing happen off the
request path (web/signups.py), so neither the answer nor its timing tells who is on the list.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pain_news import links
from pain_news.i18n import N_

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
    from pain_news.subscribers.store import MAX_NAME, check_email, check_text

    return check_email(email), check_text("first name", first_name, MAX_NAME)


def validate_topics(config: Config, chosen: list[str]) -> tuple[str, ...] | None:
    """The topics ticked on a form, in config order; None when config offers none. StoreError for
    a key config does not declare (a form posted from somewhere else)."""
    from pain_news.errors import StoreError

    if not config.topics:
        return None
    unknown = config.unknown_topics(chosen)
    if unknown:
        raise StoreError(N_("please choose among the topics shown"))
    return tuple(k for k in config.topic_keys if k in chosen)


def request_signup(
    config: Config,
    store: SubscriberStore,
    email: str,
    first_name: str = "",
    topics: tuple[str, ...] | None = None,
) -> Confirmation | None:
    """Record a signup; the confirmation email to send, or None when nobody is to be mailed.

    None for active, bounced and complained addresses and past the per-address daily limit
    (serve.signups_per_address_per_day). A name given here is stored only on a new row: a third
    party's signup never changes an existing subscriber. The topics chosen (None: the form offered
    none) apply when the person confirms.
    """
    address, first = validate_signup(email, first_name)
    links.link_base(config)  # no link can be made: refuse before anything is written
    request = store.request_signup(
        address, first, daily_limit=config.serve.signups_per_address_per_day, topics=topics
    )
    if not request.send_confirmation:
        return None
    record = store.get(request.subscriber_id)
    assert record is not None  # just written
    link = links.confirm_url(config, request.subscriber_id, request.request_event_id)
    name = config.newsletter.name
    greeting = f"Hello {record.first_name}," if record.first_name else "Hello,"
    text = (
        f"{greeting}\n\nPlease confirm that you want to receive {name} by opening this link"
        f" and pressing the button:\n\n{link}\n\n"
        f"If you did not ask for this, ignore this email: you will not be added.\n\n"
        f"{config.newsletter.from_name}\n{config.newsletter.postal_address}\n"
    )
    e = html.escape
    body = (
        f"<p>{e(greeting)}</p><p>Please confirm that you want to receive {e(name)}:</p>"
        f'<p><a href="{e(link)}">Yes, subscribe me</a></p>'
        f"<p>If you did not ask for this, ignore this email: you will not be added.</p>"
        f"<p>{e(config.newsletter.from_name)}<br>{e(config.newsletter.postal_address)}</p>"
    )
    subject = f"Please confirm your subscription to {name}"
    return Confirmation(to=record.email, subject=subject, text=text, html=body)


def send_confirmation(config: Config, confirmation: Confirmation) -> None:
    """Mail a confirmation through the configured provider; DeliveryError when it did not go."""
    from pain_news.delivery import send_transactional

    send_transactional(
        config,
        to=confirmation.to,
        subject=confirmation.subject,
        text=confirmation.text,
        html=confirmation.html,
    )


def read_confirmation(config: Config, token: str) -> tuple[int, int]:
    """(subscriber, signup request) a confirmation token names; InvalidToken when bad."""
    from pain_news.errors import InvalidToken

    subscriber_id, request_event_id = links.read_token(
        config.secrets.verification_keys or config.secrets.secret_key, token, purpose="confirm"
    )
    if request_event_id is None:
        raise InvalidToken(N_("this confirmation link is not valid"))
    return subscriber_id, request_event_id


def confirm_signup(config: Config, store: SubscriberStore, token: str) -> Change:
    """Activate the subscriber a confirmation token names (the person's own POST); InvalidToken when stale."""
    return store.confirm_signup(*read_confirmation(config, token))
