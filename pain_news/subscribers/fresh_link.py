"""A fresh preference link, mailed to the subscriber's own address when an expired link asks for it.

The expired link's page shows nothing about the subscriber, and the new link goes only to the
address on file, so someone holding a forwarded email learns nothing and gets no access; only an
active subscriber is mailed (no opted-out address ever is), at most FRESH_LINKS_PER_DAY a day.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from pain_news import i18n, links
from pain_news.delivery import send_transactional
from pain_news.subscribers.signup import link_email
from pain_news.vocab import ACTIVE

if TYPE_CHECKING:
    from pain_news.config.settings import Config
    from pain_news.subscribers.store import SubscriberRecord, SubscriberStore

FRESH_LINKS_PER_DAY = 3


def send_fresh_link(
    config: Config, store: SubscriberStore, subscriber_id: int, now: dt.datetime | None = None
) -> bool:
    """Mail the subscriber a new preference link; False when nothing was sent (gone, not active,
    or FRESH_LINKS_PER_DAY already went out in 24 hours). DeliveryError when it did not go."""
    record = store.get(subscriber_id)
    if record is None or record.status != ACTIVE:
        return False
    when = now or dt.datetime.now(dt.UTC)
    if not store.claim_fresh_link(record.id, FRESH_LINKS_PER_DAY, now=when):
        return False
    link = links.preferences_url(config, record.id, None, int(when.timestamp()))
    subject, text, body = fresh_link_email(config, record, link)
    send_transactional(config, to=record.email, subject=subject, text=text, html=body)
    return True


def fresh_link_email(config: Config, record: SubscriberRecord, link: str) -> tuple[str, str, str]:
    """(subject, text, HTML) of the email, in the subscriber's language when there is a catalogue for it."""
    language = record.language if record.language in i18n.catalogue_languages() else i18n.SOURCE_LANGUAGE
    name, days = config.newsletter.name, str(config.serve.preference_link_days)

    def _(message: str, **values: str) -> str:
        return i18n.translate(language, message, **values)

    intro = _(
        "Here is a fresh link to your %(newsletter)s preferences; it works for %(days)s days:",
        newsletter=name,
        days=days,
    )
    ignore = _("If you did not ask for it, you can ignore this email: nothing has changed.")
    opening = (_("Hello,"), intro, intro)
    text, body = link_email(config, language, opening, link, _("Manage preferences"), ignore)
    return _("Your link to your %(newsletter)s preferences", newsletter=name), text, body
