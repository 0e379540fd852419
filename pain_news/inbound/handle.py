"""One inbound message handled: opt-outs applied, bounces counted, replies forwarded and answered once.

Both doors call `handle_message`: `pain-news inbound FILE.eml|-` (a mail server's pipe) and serve's
Inbound Parse route. The rules, in order (docs/serve.md):

1. a message to `unsubscribe-TOKEN@…` unsubscribes the subscriber the signed token names, whatever
   it says (no confirmation: mailbox providers send these for the person, who expects no mail);
2. a delivery status notification bounces (5.x.x) or counts (4.x.x, delayed) each address it names;
3. mail from the clinic's own addresses is dropped (a loop);
4. automatic replies (RFC 3834 headers, out-of-office subjects) are recorded and dropped;
5. a subscriber asking to stop in the subject or first line is unsubscribed and told so once;
6. everything else is forwarded to newsletter.replies_forward_to with the sender as Reply-To, and a
   person (not a list, robot or autoresponder) gets the automatic answer at most once per
   newsletter.reply_answer_days.

Each message leaves one reply event per outcome (nothing of its content) or, when the database or
the provider is unavailable, InboundDeferred with nothing recorded, so the mail is retried.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from pain_news.config.settings import require
from pain_news.delivery import Recipient, get_provider, message_from_config
from pain_news.delivery.retry import deliver_now
from pain_news.errors import ConfigError, DeliveryError, InboundDeferred, InvalidToken, StoreError
from pain_news.inbound import answers, rules
from pain_news.inbound.message import Inbound, read_message
from pain_news.ledger import CampaignLedger
from pain_news.links import is_unsubscribe_mailbox, verify_mail_token
from pain_news.subscribers.store import ReplyOutcome
from pain_news.vocab import (
    BOUNCED,
    REPLY_AUTO_DROPPED,
    REPLY_BOUNCE,
    REPLY_FORWARDED,
    REPLY_LOOP_DROPPED,
    REPLY_SOFT_BOUNCE,
    REPLY_UNREADABLE,
    REPLY_UNSUBSCRIBED,
    UNSUBSCRIBED,
)

if TYPE_CHECKING:
    from pain_news.config.settings import Config
    from pain_news.delivery import Provider
    from pain_news.subscribers.store import SubscriberStore

log = logging.getLogger("pain_news.inbound")
# A reply counts for the newest campaign sent to its subscriber within this window (`report`).
ATTRIBUTION_WINDOW = dt.timedelta(days=60)
# The answer and the confirmation say they are automatic (RFC 3834), and ask Exchange not to
# answer them with an out-of-office of its own.
AUTO_HEADERS = {"Auto-Submitted": "auto-replied", "X-Auto-Response-Suppress": "All"}
SEND_ATTEMPTS = 2  # a mail server or SendGrid waits for the answer: retry briefly, then defer


@dataclass(frozen=True)
class Handled:
    """What was done with one message (what `inbound` prints; no address, no content)."""

    action: str
    count: int = 1  # reply events recorded (a bounce report may name several addresses)
    changed: bool = False  # a status changed
    forwarded: bool = False
    answered: bool = False
    confirmed: bool = False

    def line(self) -> str:
        extra = [
            word
            for word, done in (
                ("status changed", self.changed),
                ("answered", self.answered),
                ("confirmation sent", self.confirmed),
            )
            if done
        ]
        return f"inbound: {self.action}" + (f" ({', '.join(extra)})" if extra else "")


def handle_message(
    config: Config,
    store: SubscriberStore,
    raw: bytes,
    *,
    envelope_to: tuple[str, ...] | list[str] = (),
    now: dt.datetime | None = None,
    provider: Provider | None = None,
) -> Handled:
    """Apply the rules above to one raw message; InboundDeferred when it must be retried later."""
    now = now or dt.datetime.now(dt.UTC)
    with deferred():
        try:
            message = read_message(raw, envelope_to)
        except Exception:  # the email package gave up on it: recorded, never bounced back
            log.warning("inbound message could not be read at all")
            return _record(store, ReplyOutcome(REPLY_UNREADABLE), now)
        handler = _Handler(config, store, message, now, provider)
        try:
            return handler.run()
        finally:
            handler.close()


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Database, provider and settings failures leave as InboundDeferred (exit 75, or 503)."""
    try:
        yield
    except (StoreError, DeliveryError, ConfigError) as exc:
        raise InboundDeferred(
            f"inbound message not handled now: {exc}",
            hint=exc.hint or "nothing was recorded; the mail server (or SendGrid) will deliver it again",
        ) from None


def _record(store: SubscriberStore, outcome: ReplyOutcome, now: dt.datetime) -> Handled:
    applied = store.record_reply(outcome, now=now)
    log.info("inbound message: %s", outcome.action)
    return Handled(outcome.action, changed=applied.changed)


class _Handler:
    def __init__(
        self,
        config: Config,
        store: SubscriberStore,
        message: Inbound,
        now: dt.datetime,
        provider: Provider | None,
    ) -> None:
        self.config, self.store, self.message, self.now = config, store, message, now
        self._provider, self._own_provider = provider, provider is None

    @property
    def provider(self) -> Provider:
        if self._provider is None:
            self._provider = get_provider(self.config)
        return self._provider

    def close(self) -> None:
        if self._own_provider and self._provider is not None:
            self._provider.close()

    def run(self) -> Handled:
        message = self.message
        token = self._token()
        if token is not None:
            return self._token_opt_out(*token)
        if message.report:
            return self._report()
        sender = message.sender
        if not sender:
            return _record(self.store, ReplyOutcome(REPLY_UNREADABLE), self.now)
        if rules.is_own(self.config, sender):
            return _record(self.store, ReplyOutcome(REPLY_LOOP_DROPPED), self.now)
        subscriber_id = self.store.subscriber_id_for(sender)
        campaign_id = self._campaign_of(subscriber_id)
        if rules.is_auto_reply(message):
            return _record(
                self.store, ReplyOutcome(REPLY_AUTO_DROPPED, sender, subscriber_id, campaign_id), self.now
            )
        if subscriber_id is not None and not message.from_list and rules.stop_requested(message):
            return self._reply_opt_out(subscriber_id, campaign_id)
        return self._forward(subscriber_id, campaign_id)

    # ---- the rules ----------------------------------------------------------------------------

    def _token(self) -> tuple[int, int | None] | None:
        """(subscriber, campaign) of a signed unsubscribe mailto among the recipients, else None."""
        keys = self.config.secrets.verification_keys
        for address in self.message.recipients:
            local = address.rpartition("@")[0]
            if not keys or not is_unsubscribe_mailbox(local):
                continue
            try:
                verified = verify_mail_token(keys, local)
            except InvalidToken:
                log.warning("inbound message to an unsubscribe address whose token does not verify")
                continue
            # A short previous key could be guessed: its tokens reach only subscribers from before
            # it was retired (subscribers/store/links.py), as its links do (web/context.py).
            weak = verified.weak_key
            if weak is not None and not self.store.retired_key_reaches(weak, verified.subscriber_id):
                log.warning("inbound message to an unsubscribe address of a retired short key")
                continue
            return verified.subscriber_id, verified.campaign_id
        return None

    def _token_opt_out(self, subscriber_id: int, campaign_id: int | None) -> Handled:
        email = self.store.address_of(subscriber_id)  # None: the subscriber was deleted meanwhile
        outcome = ReplyOutcome(
            REPLY_UNSUBSCRIBED,
            self.message.sender,
            subscriber_id if email else None,
            campaign_id,
            opt_out_email=email or "",
            opt_out_status=UNSUBSCRIBED,
            opt_out_method="email",
            detail="unsubscribe mailto",
        )
        return _record(self.store, outcome, self.now)

    def _report(self) -> Handled:
        """A bounce report: hard → bounced (like SendGrid's bounce event), soft → counted."""
        reported = self.message.reported
        if not reported:  # a report that names no failed recipient (a delay we cannot read, a receipt)
            return _record(self.store, ReplyOutcome(REPLY_AUTO_DROPPED), self.now)
        changed = False
        for entry in reported:
            subscriber_id = self.store.subscriber_id_for(entry.address)
            outcome = ReplyOutcome(
                REPLY_BOUNCE if entry.hard else REPLY_SOFT_BOUNCE,
                subscriber_id=subscriber_id,
                campaign_id=self.message.report_campaign,
                opt_out_email=entry.address if entry.hard else "",
                opt_out_status=BOUNCED if entry.hard else "",
                opt_out_method="bounce-report",
                detail="bounce report by email",
            )
            changed = self.store.record_reply(outcome, now=self.now).changed or changed
        action = REPLY_BOUNCE if any(e.hard for e in reported) else REPLY_SOFT_BOUNCE
        log.info("inbound bounce report: %d address(es)", len(reported))
        return Handled(action, count=len(reported), changed=changed)

    def _reply_opt_out(self, subscriber_id: int, campaign_id: int | None) -> Handled:
        sender = self.message.sender
        outcome = ReplyOutcome(
            REPLY_UNSUBSCRIBED,
            sender,
            subscriber_id,
            campaign_id,
            opt_out_email=sender,
            opt_out_status=UNSUBSCRIBED,
            opt_out_method="email",
            detail="asked to stop in a reply",
        )
        done = _record(self.store, outcome, self.now)
        confirmed = False
        if done.changed:  # once: a second "stop" changes nothing and is not answered again
            composed = answers.unsubscribed(self.config, sender, self._language_of(sender))
            confirmed = self._send_quietly(composed, sender)
        return replace(done, confirmed=confirmed)

    def _forward(self, subscriber_id: int | None, campaign_id: int | None) -> Handled:
        require(self.config, "newsletter.replies_forward_to")
        message, news = self.message, self.config.newsletter
        since = self.now - dt.timedelta(days=news.reply_answer_days)
        answer = rules.may_answer(message) and not self.store.answered_since(message.sender, since)
        forward = answers.forward(self.config, message)
        self._send(forward, news.replies_forward_to, reply_to=message.sender, label="replies", headers={})
        answered = answer and self._send_quietly(
            answers.answer(self.config, self._language_of(message.sender)), message.sender
        )
        outcome = ReplyOutcome(REPLY_FORWARDED, message.sender, subscriber_id, campaign_id, answered=answered)
        return replace(_record(self.store, outcome, self.now), forwarded=True, answered=answered)

    # ---- helpers ------------------------------------------------------------------------------

    def _language_of(self, sender: str) -> str | None:
        """A known subscriber's language (they are answered in it); None for anyone else."""
        found = self.store.get(sender)
        return found.language if found is not None else None

    def _campaign_of(self, subscriber_id: int | None) -> int | None:
        if subscriber_id is None:
            return None
        ledger = CampaignLedger.for_store(self.store)
        return ledger.latest_sent_to(subscriber_id, since=self.now - ATTRIBUTION_WINDOW)

    def _send(
        self, composed: answers.Composed, to: str, *, reply_to: str, label: str, headers: dict[str, str]
    ) -> None:
        outgoing = message_from_config(
            self.config, composed.subject, composed.html, composed.text, label=label
        )
        outgoing = replace(outgoing, reply_to=reply_to or outgoing.reply_to)
        deliver_now(
            self.provider, outgoing, [Recipient(email=to, headers=headers)], base=0.5, attempts=SEND_ATTEMPTS
        )

    def _send_quietly(self, composed: answers.Composed, to: str) -> bool:
        """Send an automatic message; a failure is logged, never retried by re-handling the message
        (the forward or the opt-out it follows already happened)."""
        try:
            self._send(composed, to, reply_to="", label="transactional", headers=AUTO_HEADERS)
        except DeliveryError as exc:
            log.warning("automatic answer not sent: %s", type(exc).__name__)
            return False
        return True
