"""Signup with double opt-in: record the request, mail a confirmation link, activate on confirm."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from pain_news import unsubscribe

if TYPE_CHECKING:
    from pain_news.config import Config
    from pain_news.store import Change, SubscriberStore


def request_signup(config: Config, store: SubscriberStore, email: str, first_name: str = "") -> None:
    """Record a signup and mail the confirmation; already-active addresses get no mail.

    The caller shows the same answer whatever happened, so the form never reveals who is
    on the list. When the email cannot be sent (DeliveryError), the request stays `pending` —
    never mailed by a list send — and submitting the form again sends a fresh link.
    """
    from pain_news.delivery import send_transactional

    unsubscribe.link_base(config)  # no link can be made: refuse before anything is written
    request = store.request_signup(email, first_name.strip()[:200])
    if not request.send_confirmation:
        return
    record = store.get(request.subscriber_id)
    assert record is not None  # just written
    link = unsubscribe.confirm_url(config, request.subscriber_id, request.request_event_id)
    name = config.newsletter.name
    greeting = f"Hello {record.first_name}," if record.first_name else "Hello,"
    text = (
        f"{greeting}\n\nPlease confirm that you want to receive {name} by opening this link:\n\n{link}\n\n"
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
    send_transactional(
        config, to=record.email, subject=f"Please confirm your subscription to {name}", text=text, html=body
    )


def confirm_signup(config: Config, store: SubscriberStore, token: str) -> Change:
    """Activate the subscriber a confirmation token names; InvalidToken when it is bad or stale."""
    subscriber_id, request_event_id = unsubscribe.read_token(
        config.secrets.secret_key, token, purpose="confirm"
    )
    if request_event_id is None:
        from pain_news.errors import InvalidToken

        raise InvalidToken("this confirmation link is not valid")
    return store.confirm_signup(subscriber_id, request_event_id)
