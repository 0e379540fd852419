"""SubscriberStore: every change to who gets the newsletter, each status change logged as an event.

Opt-outs are sacred: nothing here turns an unsubscribed, bounced or complained subscriber (or a
deleted, hash-suppressed address) active again, except `resubscribe` with a reason and a
confirmed signup (`confirm_signup`), both written to the subscriber's history.

The store is one facade over plain parts, each a module of functions that take the session (or
engine) they work in: core.py (address rules, records, the one status-change path
`write_status_changes`, bulk SQL helpers), statuses.py (add, opt out, resubscribe, delete,
history), signups.py (double opt-in), bulk_import.py (CSV imports; its per-row rules in
import_rules.py), events.py (webhook batches, suppression syncs), listing.py (streams and counts),
topics.py (topics readers choose) and links.py (previous secret keys, fresh preference links). The
facade owns the engines and opens one transaction per call; callers use only what this module
exports. No other module writes SQL against these tables.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from pain_news import db
from pain_news.db.models import utcnow
from pain_news.errors import StoreConflict, StoreError
from pain_news.subscribers.store import (
    bulk_import,
    core,
    links,
    listing,
    replies,
    signups,
    statuses,
    withdrawals,
)

# `events` and `topics` are also parameter names of the facade's methods: those parts go by these.
from pain_news.subscribers.store import events as events_part
from pain_news.subscribers.store import topics as topics_part
from pain_news.subscribers.store.core import (
    MAX_NAME,
    MAX_TAG,
    Change,
    EventRecord,
    SignupRequest,
    StatusChange,
    SubscriberRecord,
    check_email,
    check_text,
    clean_tags,
    control_character,
    email_hash,
    email_key,
    lookup_hashes,
    pg_array,
    suppress_many,
)
from pain_news.subscribers.store.events import EventBatchResult, IncomingEvent, OptOutResult
from pain_news.subscribers.store.import_rules import ImportCounts, ImportRow
from pain_news.subscribers.store.links import key_fingerprint
from pain_news.subscribers.store.replies import ReplyApplied, ReplyEventRecord, ReplyOutcome
from pain_news.subscribers.store.signups import Purged
from pain_news.subscribers.store.withdrawals import QueuedWithdrawal, WithdrawalFigures

if TYPE_CHECKING:
    from pain_news.config.settings import Config

__all__ = [  # the front door: what the rest of the package imports from the store
    "MAX_NAME",
    "MAX_TAG",
    "Change",
    "EventBatchResult",
    "EventRecord",
    "ImportCounts",
    "ImportRow",
    "IncomingEvent",
    "OptOutResult",
    "Purged",
    "QueuedWithdrawal",
    "ReplyApplied",
    "ReplyEventRecord",
    "ReplyOutcome",
    "SignupRequest",
    "StatusChange",
    "SubscriberRecord",
    "SubscriberStore",
    "WithdrawalFigures",
    "check_email",
    "check_text",
    "clean_tags",
    "control_character",
    "email_hash",
    "email_key",
    "key_fingerprint",
    "lookup_hashes",
    "open_store",
    "pg_array",
]


class SubscriberStore:
    """The subscriber database; each method is one short transaction."""

    def __init__(self, engine: Engine, reader: Engine) -> None:
        self.engine = engine
        self.reader = reader  # read-only streams (list, export): never hold the SQLite write lock

    def close(self) -> None:
        """Release the connection pools."""
        self.engine.dispose()
        if self.reader is not self.engine:
            self.reader.dispose()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session inside one transaction, committed on success and rolled back on any error."""
        with db.store_errors(), Session(self.engine, expire_on_commit=False) as s, s.begin():
            yield s

    # ---- one subscriber: statuses and history (statuses.py) --------------------------------

    def get(self, who: str | int) -> SubscriberRecord | None:
        """The subscriber with this address or id, or None."""
        try:
            with self.session() as s:
                return SubscriberRecord.of(core.find(s, who))
        except StoreError:
            return None

    def history(self, who: str | int) -> tuple[SubscriberRecord, list[EventRecord]]:
        """A subscriber and their status history, oldest first."""
        with self.session() as s:
            return statuses.history(s, who)

    def is_suppressed(self, s: Session, email: str) -> bool:
        """True when this address was deleted or opted out elsewhere and must not be re-added."""
        return statuses.is_suppressed(s, email)

    def suppress(self, s: Session, email: str, reason: str, now: dt.datetime) -> None:
        """Record a hashed address that no import or add may bring (back) in."""
        suppress_many(s, [email], reason, now)

    def add(
        self,
        email: str,
        first_name: str = "",
        last_name: str = "",
        tags: Iterable[str] = (),
        *,
        topics: Iterable[str] = (),
        source: str = "manual",
        language: str = "en",
        now: dt.datetime | None = None,
    ) -> SubscriberRecord:
        """Add one active subscriber; refuses known and suppressed addresses. `topics` and
        `language` are checked against the configuration by the caller."""
        address = check_email(email)
        try:
            with self.session() as s:
                return statuses.add(
                    s, address, first_name, last_name, tags, topics, source, now or utcnow(), language
                )
        except StoreConflict:  # a concurrent add of the same address won the race
            raise StoreError(f"{address} is already in the list") from None

    def opt_out(
        self,
        who: str | int,
        status: str,
        method: str,
        campaign_id: int | None = None,
        *,
        detail: str = "",
        now: dt.datetime | None = None,
    ) -> Change:
        """Mark unsubscribed/bounced/complained; idempotent; a complaint outranks an unsubscribe."""
        with self.session() as s:
            return statuses.opt_out(s, who, status, method, campaign_id, detail, now or utcnow())

    def unsubscribe(
        self,
        who: str | int,
        method: str = "manual",
        campaign_id: int | None = None,
        *,
        now: dt.datetime | None = None,
    ) -> Change:
        """Unsubscribe by address or id; repeating it changes nothing."""
        return self.opt_out(who, "unsubscribed", method, campaign_id, now=now)

    def resubscribe(self, who: str | int, reason: str, *, now: dt.datetime | None = None) -> Change:
        """The only way back to active for an opted-out subscriber; the reason is kept in history."""
        with self.session() as s:
            return statuses.resubscribe(s, who, reason, now or utcnow())

    def delete(self, who: str | int, *, now: dt.datetime | None = None) -> str:
        """Erase a subscriber and their history, keeping only a hashed address as a suppression;
        the erased address (see statuses.delete for what the ledger and events keep)."""
        with self.session() as s:
            return statuses.delete(s, who, now or utcnow())

    def opt_out_address(
        self,
        email: str,
        status: str,
        method: str,
        campaign_id: int | None = None,
        *,
        detail: str = "",
        now: dt.datetime | None = None,
    ) -> Change | None:
        """Opt out by address; an address we do not know is suppressed so no import can add it later.

        One address at a time, for opt-outs that arrive one message at a time (a reply asking to
        stop, a bounce report by email); webhook batches and sync use opt_out_addresses.
        """
        with self.session() as s:
            return statuses.opt_out_address(s, email, status, method, campaign_id, detail, now or utcnow())

    # ---- double opt-in (signups.py) ---------------------------------------------------------

    def request_signup(
        self,
        email: str,
        first_name: str = "",
        last_name: str = "",
        *,
        daily_limit: int | None = None,
        topics: Iterable[str] | None = None,
        language: str = "en",
        now: dt.datetime | None = None,
    ) -> SignupRequest:
        """Record a signup form submission; nobody becomes active until they confirm.

        The topics chosen on the form (None: the form offered none) are kept in the request's
        history row and applied by `confirm_signup`, never before.

        Nothing is mailed to active, bounced or complained addresses (nor to an unknown address
        whose bounce or complaint was suppressed), nor past `daily_limit` requests in 24 hours.
        The first name waits on the request and becomes the subscriber's only when this request
        is confirmed (anyone can post the form); the language is stored only on a new row: a
        stranger's signup never changes an existing one (the preference page, behind the
        subscriber's own link, does).
        """
        address = check_email(email)
        with self.session() as s:
            return signups.request_signup(
                s, address, first_name, last_name, daily_limit, topics, now or utcnow(), language
            )

    def confirm_signup(
        self,
        subscriber_id: int,
        request_event_id: int,
        *,
        now: dt.datetime | None = None,
        since: dt.datetime | None = None,
    ) -> Change:
        """Activate after the confirmation link, with the name typed on the confirmed form;
        InvalidToken for stale or unknown requests, and for one made before `since` (purged)."""
        with self.session() as s:
            return signups.confirm_signup(s, subscriber_id, request_event_id, now or utcnow(), since)

    def signup_to_confirm(
        self, subscriber_id: int, request_event_id: int, *, since: dt.datetime | None = None
    ) -> SubscriberRecord:
        """The subscriber a confirmation link would activate (nothing changes); InvalidToken when stale."""
        with self.session() as s:
            return signups.signup_to_confirm(s, subscriber_id, request_event_id, since)

    def purge_unconfirmed(self, before: dt.datetime) -> Purged:
        """Delete pending subscribers whose newest signup request is older than `before`, and forget
        the names older unconfirmed requests carried (subscribers.pending_purge_days)."""
        with self.session() as s:
            return signups.purge_unconfirmed(s, before)

    # ---- topics and preferences (topics.py) -------------------------------------------------

    def update_preferences(
        self,
        who: str | int,
        *,
        topics: Iterable[str] | None = None,
        first_name: str | None = None,
        language: str | None = None,
        via: str = "",
        now: dt.datetime | None = None,
        by_subscriber: bool = False,
    ) -> Change:
        """Topics, first name and/or language (already a configured code) of one subscriber, in one
        transaction, each change in the history; `by_subscriber` records them as the subscriber's own
        choice, which no import overrides."""
        with self.session() as s:
            return topics_part.update_preferences(
                s, who, topics, first_name, via, now or utcnow(), language, by_subscriber=by_subscriber
            )

    # ---- many subscribers at once (bulk_import.py, events.py) -----------------------------

    def import_rows(
        self,
        rows: Iterable[ImportRow],
        *,
        source: str,
        dry_run: bool = False,
        now: dt.datetime | None = None,
        on_progress: Callable[[int, int], None] | None = None,
        expected: int | None = None,
        default_language: str = "en",
    ) -> ImportCounts:
        """Merge rows (one per address) as one transaction, rolled back for a dry run or on any error
        (see bulk_import.import_rows); opted-out and suppressed addresses are never brought back.
        A row with no language gives a new subscriber `default_language` and keeps a known one's."""
        return bulk_import.import_rows(
            self.engine, rows, source, dry_run, now or utcnow(), on_progress, expected, default_language
        )

    def apply_delivery_events(
        self, events: Sequence[IncomingEvent], *, now: dt.datetime | None = None
    ) -> EventBatchResult:
        """Apply a webhook batch in one transaction: opt-outs first, then each new sg_event_id once.

        Repeating a batch changes nothing. StoreError when the database fails: nothing of the
        batch is kept, so the provider's retry applies it once.
        """
        with self.session() as s:
            return events_part.apply_delivery_events(s, events, now or utcnow())

    def opt_out_addresses(
        self,
        emails: Iterable[str],
        status: str,
        method: str,
        *,
        detail: str = "",
        now: dt.datetime | None = None,
    ) -> OptOutResult:
        """Opt out many addresses in one transaction; unknown ones are suppressed so no import adds them."""
        with self.session() as s:
            return events_part.opt_out_addresses(s, emails, status, method, detail, now or utcnow())

    def record_delivery_event(
        self,
        sg_event_id: str,
        event: str,
        occurred_at: dt.datetime,
        *,
        campaign_id: int | None,
        subscriber_id: int | None,
        detail: str = "",
    ) -> bool:
        """Store one event once; False when this event id was already seen. For events that come
        one at a time with an id of their own (a reply or a bounce report by email, its Message-ID);
        webhook batches go through apply_delivery_events."""
        with self.session() as s:
            return events_part.record_delivery_event(
                s, sg_event_id, event, occurred_at, campaign_id, subscriber_id, detail
            )

    # ---- replies by email (replies.py) ------------------------------------------------------

    def subscriber_id_for(self, email: str) -> int | None:
        """The id of the subscriber with this address, or None."""
        with self.session() as s:
            return replies.subscriber_id_for(s, email)

    def address_of(self, subscriber_id: int) -> str | None:
        """The address of a subscriber (the token mailto names an id), or None when deleted."""
        with self.session() as s:
            return replies.address_of(s, subscriber_id)

    def record_reply(self, outcome: ReplyOutcome, *, now: dt.datetime | None = None) -> ReplyApplied:
        """Apply the opt-out `outcome` asks for (if any) and record the event, in one transaction."""
        with self.session() as s:
            return replies.record_reply(s, outcome, now or utcnow())

    def answered_since(self, sender: str, since: dt.datetime) -> bool:
        """True when this sender was sent the automatic answer at or after `since`."""
        with self.session() as s:
            return replies.answered_since(s, sender, since)

    def reply_events(self, subscriber_id: int) -> list[ReplyEventRecord]:
        """A subscriber's reply events, oldest first (`subscribers show`)."""
        with self.session() as s:
            return replies.reply_events(s, subscriber_id)

    def reply_figures(self, campaign_ids: Iterable[int]) -> dict[int, dict[str, int]]:
        """Per campaign, the reply figures report shows (every figure present, 0 when none)."""
        with self.session() as s:
            return replies.reply_figures(s, campaign_ids)

    # ---- suppressions still to make at SendGrid (withdrawals.py; sendgrid/withdraw.py) -------

    def count_queued_withdrawals(self) -> int:
        """How many withdrawals (and restores) wait for SendGrid: a cheap check before any client."""
        with self.session() as s:
            return withdrawals.count_queued(s)

    def queued_withdrawals(self) -> list[QueuedWithdrawal]:
        """Every withdrawal and restore still to do, oldest first."""
        with self.session() as s:
            return withdrawals.queued(s)

    def settle_withdrawals(
        self,
        done: Sequence[QueuedWithdrawal],
        *,
        on_global_list: Sequence[str] = (),
        off_global_list: Sequence[str] = (),
        now: dt.datetime | None = None,
    ) -> None:
        """SendGrid took these: ledger rows `withdrawn`, queue rows (and their addresses) deleted."""
        with self.session() as s:
            withdrawals.settle(
                s, done, on_global_list=on_global_list, off_global_list=off_global_list, now=now
            )

    def mark_withdrawals_late(self, late: Sequence[int], now: dt.datetime) -> None:
        """These could not be made before send_at: the fact kept for `report`, the address dropped."""
        with self.session() as s:
            withdrawals.mark_late(s, late, now)

    def note_withdrawal_failure(self, failed: Sequence[int], error: str) -> None:
        """SendGrid did not take these yet: counted, SendGrid's reason kept."""
        with self.session() as s:
            withdrawals.note_failure(s, failed, error)

    def on_global_list(self, emails: Sequence[str]) -> set[str]:
        """Those of `emails` we put on SendGrid's global unsubscribe list."""
        with self.session() as s:
            return withdrawals.on_global_list(s, emails)

    def withdrawal_figures(
        self, campaign_id: int, send_at: dt.datetime | None, now: dt.datetime
    ) -> WithdrawalFigures:
        """Waiting and late withdrawals of one scheduled campaign, for `report`."""
        with self.session() as s:
            return withdrawals.figures(s, campaign_id, send_at, now)

    # ---- what links need (links.py) ---------------------------------------------------------

    def retired_key_bounds(self, keys: Iterable[str], *, now: dt.datetime | None = None) -> dict[str, int]:
        """Record previous secret keys not seen before (by fingerprint) with today's highest
        subscriber id; each key's highest id, by `key_fingerprint`."""
        with self.session() as s:
            return links.record_retired_keys(s, keys, now or utcnow())

    def retired_key_reaches(self, key: str, subscriber_id: int) -> bool:
        """Whether a link signed with this previous key may name this subscriber: one who existed
        when the key was first seen among the previous keys (a short key could be guessed)."""
        bound = self.retired_key_bounds([key]).get(key_fingerprint(key), 0)
        return subscriber_id <= bound

    def claim_fresh_link(self, subscriber_id: int, per_day: int, *, now: dt.datetime | None = None) -> bool:
        """Count one fresh preference link for this subscriber; False when `per_day` went out in 24 h."""
        with self.session() as s:
            return links.claim_fresh_link(s, subscriber_id, per_day, now or utcnow())

    # ---- reading the list (listing.py) ------------------------------------------------------

    def iter_subscribers(
        self, status: str | None = None, tag: str | None = None, topic: str | None = None
    ) -> Iterator[SubscriberRecord]:
        """Stream subscribers in id order without loading them all (server-side cursor on PostgreSQL),
        with their tags and topics."""
        return listing.iter_subscribers(self.reader, status, tag, topic)

    def stats(self) -> dict[str, int]:
        """Subscriber counts per status (every status present), plus suppressions."""
        with self.session() as s:
            return listing.stats(s)


def open_store(config: Config, *, create: bool = False) -> SubscriberStore:
    """Open the configured database, applying pending migrations first.

    Only commands that add data pass `create`; without it a database with no schema is refused
    (NoSchema), so `serve` or `send` never run against an empty list by mistake.
    """
    engine, reader = db.open_database(config.database_url, create=create)
    store = SubscriberStore(engine, reader)
    if config.secrets.previous_secret_keys:  # the first time a key is seen among the previous ones
        store.retired_key_bounds(config.secrets.previous_secret_keys)
    return store
