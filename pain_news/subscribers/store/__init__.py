"""SubscriberStore: every change to who gets the newsletter, each status change logged as an event.

Opt-outs are sacred: nothing here turns an unsubscribed, bounced or complained subscriber (or a
deleted, hash-suppressed address) active again, except `resubscribe` with a reason and a
confirmed signup (`confirm_signup`), both written to the subscriber's history.

The store is this class plus its parts: store_core.py (address rules, records, the one
status-change path `write_status_changes`), store_events.py (webhook batches, suppression
syncs), store_import.py (CSV imports), store_listing.py (streams and counts) and
store_topics.py (topics readers choose). No other module writes SQL against these tables.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.orm import Session

from pain_news import db
from pain_news.config.clock import as_utc
from pain_news.db.models import (
    DeliveryEvent,
    LedgerEntry,
    ReplyEvent,
    Subscriber,
    SubscriberEvent,
    SubscriberTag,
    Suppression,
    utcnow,
)
from pain_news.errors import InvalidToken, StoreConflict, StoreError
from pain_news.subscribers.store.bulk_import import ImportCounts, ImportMixin, ImportRow
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
    new_subscriber,
    set_status,
    suppress_many,
)
from pain_news.subscribers.store.events import IncomingEvent
from pain_news.subscribers.store.listing import ListingMixin
from pain_news.subscribers.store.replies import RepliesMixin, ReplyEventRecord, ReplyOutcome
from pain_news.subscribers.store.topics import (
    TopicsMixin,
    clean_topics,
    signup_detail,
    topics_requested,
    write_topic_changes,
)
from pain_news.vocab import ACTIVE, OPT_OUT_METHODS, OPTED_OUT, PENDING

if TYPE_CHECKING:
    from pain_news.config.settings import Config

__all__ = [  # what the rest of the package imports from here
    "MAX_NAME",
    "MAX_TAG",
    "Change",
    "EventRecord",
    "ImportCounts",
    "ImportRow",
    "IncomingEvent",
    "ReplyEventRecord",
    "ReplyOutcome",
    "SignupRequest",
    "StatusChange",
    "SubscriberRecord",
    "SubscriberStore",
    "check_email",
    "check_text",
    "control_character",
    "email_hash",
    "email_key",
    "open_store",
]


class SubscriberStore(ImportMixin, RepliesMixin, ListingMixin, TopicsMixin):
    """The subscriber database; each method is one short transaction."""

    # ---- lookups -------------------------------------------------------------------------

    def _find(self, s: Session, who: str | int, *, lock: bool = False) -> Subscriber:
        """The subscriber; with `lock`, its row stays locked until commit (SELECT ... FOR UPDATE).

        Every status change locks first, so on PostgreSQL a change that commits meanwhile can
        never be overwritten from a stale read (SQLite's BEGIN IMMEDIATE serialises writers anyway).
        """
        sub = self._lookup(s, who, lock=lock)
        if sub is None:
            raise StoreError(f"no subscriber {who!r}", hint="see 'pain-news subscribers list'")
        return sub

    @staticmethod
    def _lookup(s: Session, who: str | int, *, lock: bool = False) -> Subscriber | None:
        if isinstance(who, int):
            return s.get(Subscriber, who, with_for_update=lock or None)
        query = select(Subscriber).where(Subscriber.email_key == email_key(who))
        return s.scalar(query.with_for_update() if lock else query)

    def get(self, who: str | int) -> SubscriberRecord | None:
        """The subscriber with this address or id, or None."""
        try:
            with self.session() as s:
                return SubscriberRecord.of(self._find(s, who))
        except StoreError:
            return None

    def history(self, who: str | int) -> tuple[SubscriberRecord, list[EventRecord]]:
        """A subscriber and their status history, oldest first."""
        with self.session() as s:
            sub = self._find(s, who)
            rows = s.scalars(
                select(SubscriberEvent)
                .where(SubscriberEvent.subscriber_id == sub.id)
                .order_by(SubscriberEvent.id)
            )
            events = [
                EventRecord(as_utc(e.at), e.old_status, e.new_status, e.method, e.campaign_id, e.detail)
                for e in rows
            ]
            return SubscriberRecord.of(sub), events

    def is_suppressed(self, s: Session, email: str) -> bool:
        """True when this address was deleted or opted out elsewhere and must not be re-added."""
        return bool(s.scalar(select(exists().where(Suppression.email_hash == email_hash(email)))))

    # ---- status changes ------------------------------------------------------------------

    def add(
        self,
        email: str,
        first_name: str = "",
        last_name: str = "",
        tags: Iterable[str] = (),
        *,
        topics: Iterable[str] = (),
        source: str = "manual",
        now: dt.datetime | None = None,
    ) -> SubscriberRecord:
        """Add one active subscriber; refuses known and suppressed addresses. `topics` are checked
        against the configuration by the caller."""
        address = check_email(email)
        now = now or utcnow()
        try:
            with self.session() as s:
                self.lock_new_addresses(s)
                existing = s.scalar(select(Subscriber).where(Subscriber.email_key == email_key(address)))
                if existing is not None:
                    raise StoreError(
                        f"{address} is already in the list ({existing.status})",
                        hint="use 'pain-news subscribers resubscribe' to bring back someone who opted out"
                        if existing.status in OPTED_OUT
                        else None,
                    )
                if self.is_suppressed(s, address):
                    raise StoreError(
                        f"{address} was deleted or opted out and is suppressed; it cannot be re-added",
                        hint="the person can sign up again themselves through the signup form",
                    )
                sub = new_subscriber(address, first_name, last_name, ACTIVE, source, now)
                sub.tags = [SubscriberTag(tag=t) for t in clean_tags(tags)]
                s.add(sub)
                s.flush()
                s.add(
                    SubscriberEvent(
                        subscriber_id=sub.id,
                        at=now,
                        old_status=None,
                        new_status=ACTIVE,
                        method="manual",
                        detail="added",
                    )
                )
                chosen = clean_topics(topics)
                if chosen:
                    s.flush()  # the "added" row first in the history
                    write_topic_changes(s, {sub.id: ((), chosen)}, {sub.id: ACTIVE}, now, "added")
                    s.expire(sub, ["topics"])
                return SubscriberRecord.of(sub)
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
        if status not in OPTED_OUT or method not in OPT_OUT_METHODS:
            raise ValueError(f"bad opt-out {status!r} by {method!r}")
        with self.session() as s:
            sub = self._find(s, who, lock=True)
            return self._opt_out(s, sub, status, method, campaign_id, detail, now or utcnow())

    def _opt_out(
        self,
        s: Session,
        sub: Subscriber,
        status: str,
        method: str,
        campaign_id: int | None,
        detail: str,
        now: dt.datetime,
    ) -> Change:
        if sub.status == status or (sub.status in OPTED_OUT and status == "unsubscribed"):
            return Change(SubscriberRecord.of(sub), changed=False)
        set_status(s, sub, status, method, now, campaign_id, detail)
        return Change(SubscriberRecord.of(sub), changed=True)

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
        if not reason.strip():
            raise StoreError("a reason is required to resubscribe someone who opted out")
        now = now or utcnow()
        with self.session() as s:
            sub = self._find(s, who, lock=True)
            if sub.status == ACTIVE:
                return Change(SubscriberRecord.of(sub), changed=False)
            set_status(s, sub, ACTIVE, "resubscribe", now, detail=reason.strip())
            return Change(SubscriberRecord.of(sub), changed=True)

    def delete(self, who: str | int, *, now: dt.datetime | None = None) -> str:
        """Erase a subscriber and their history, keeping only a hashed address as a suppression.

        The send ledger keeps its rows (campaign counts stay right) but not the address: it
        becomes `deleted:<first 12 hex of the hash>`, also inside provider replies kept there.
        Delivery events keep only the subscriber id, which names nobody once the row is gone
        (ids are never reused), and lose their detail (a bounce reply may quote the address).
        """
        now = now or utcnow()
        with self.session() as s:
            sub = self._find(s, who, lock=True)
            address = sub.email
            self.suppress(s, address, "deleted", now)
            placeholder = f"deleted:{email_hash(address)[:12]}"
            spelled = re.compile(re.escape(address), re.IGNORECASE)
            for entry in s.scalars(select(LedgerEntry).where(LedgerEntry.subscriber_id == sub.id)):
                entry.email = placeholder
                entry.reason = spelled.sub(placeholder, entry.reason) if entry.reason else entry.reason
            s.execute(update(DeliveryEvent).where(DeliveryEvent.subscriber_id == sub.id).values(detail=""))
            # Reply events stay counted per campaign but name nobody: no subscriber, no sender hash.
            s.execute(
                update(ReplyEvent)
                .where((ReplyEvent.subscriber_id == sub.id) | (ReplyEvent.sender_hash == email_hash(address)))
                .values(subscriber_id=None, sender_hash=None)
            )
            s.execute(delete(SubscriberEvent).where(SubscriberEvent.subscriber_id == sub.id))
            s.delete(sub)
            return address

    def suppress(self, s: Session, email: str, reason: str, now: dt.datetime) -> None:
        """Record a hashed address that no import or add may bring (back) in."""
        suppress_many(s, [email], reason, now)

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
        if status not in OPTED_OUT or method not in OPT_OUT_METHODS:
            raise ValueError(f"bad opt-out {status!r} by {method!r}")
        now = now or utcnow()
        with self.session() as s:
            # An address with a control character cannot be a subscriber (and PostgreSQL refuses NUL).
            sub = None if control_character(email) else self._lookup(s, email, lock=True)
            if sub is None and not control_character(email):
                # An import may be adding this address right now: wait for it, then look again.
                self.lock_new_addresses(s)
                sub = self._lookup(s, email, lock=True)
            if sub is None:
                self.suppress(s, email, f"{method}:{status}", now)
                return None
            return self._opt_out(s, sub, status, method, campaign_id, detail, now)

    # ---- signup --------------------------------------------------------------------------

    def request_signup(
        self,
        email: str,
        first_name: str = "",
        last_name: str = "",
        *,
        daily_limit: int | None = None,
        topics: Iterable[str] | None = None,
        now: dt.datetime | None = None,
    ) -> SignupRequest:
        """Record a signup form submission; nobody becomes active until they confirm.

        The topics chosen on the form (None: the form offered none) are kept in the request's
        history row and applied by `confirm_signup`, never before.

        Nothing is mailed to active, bounced or complained addresses (nor to an unknown address
        whose bounce or complaint was suppressed), nor past `daily_limit` requests in 24 hours.
        Names are stored only on a new row: a stranger's signup never changes an existing one.
        """
        address = check_email(email)
        now = now or utcnow()
        nothing = SignupRequest(0, 0, send_confirmation=False)
        with self.session() as s:
            sub = self._lookup(s, address, lock=True)
            if sub is None:
                if self._suppressed_as_undeliverable(s, address):
                    return nothing
                sub = new_subscriber(address, first_name, last_name, PENDING, "signup", now)
                s.add(sub)
                s.flush()
                old = None
            elif sub.status in (ACTIVE, "bounced", "complained"):
                return nothing
            else:
                old = sub.status
                if daily_limit is not None and self._signups_since(s, sub.id, now - dt.timedelta(days=1)) >= (
                    daily_limit
                ):
                    return nothing
            # Logged even when the status stays (an opted-out person asking back in): the event
            # id goes into the confirmation token, so only the newest request can confirm.
            event = SubscriberEvent(
                subscriber_id=sub.id,
                at=now,
                old_status=old,
                new_status=sub.status,
                method="signup",
                detail=signup_detail(topics),
            )
            s.add(event)
            s.flush()
            return SignupRequest(sub.id, event.id, send_confirmation=True)

    @staticmethod
    def _signups_since(s: Session, subscriber_id: int, since: dt.datetime) -> int:
        """How many confirmation emails this subscriber was sent since `since`."""
        return int(
            s.scalar(
                select(func.count(SubscriberEvent.id)).where(
                    SubscriberEvent.subscriber_id == subscriber_id,
                    SubscriberEvent.method == "signup",
                    SubscriberEvent.at >= since,
                )
            )
            or 0
        )

    @staticmethod
    def _suppressed_as_undeliverable(s: Session, email: str) -> bool:
        """True when an unknown address was suppressed for a bounce or complaint (opt_out_address)."""
        reason = s.scalar(select(Suppression.reason).where(Suppression.email_hash == email_hash(email)))
        return reason is not None and reason.endswith((":bounced", ":complained"))

    def confirm_signup(
        self, subscriber_id: int, request_event_id: int, *, now: dt.datetime | None = None
    ) -> Change:
        """Activate after the confirmation link; InvalidToken for stale or unknown requests."""
        now = now or utcnow()
        with self.session() as s:
            sub = self._lookup(s, subscriber_id, lock=True)  # see _find: no stale overwrite
            if sub is None:
                raise InvalidToken("this confirmation link names nobody", hint="sign up again")
            if sub.status == ACTIVE:
                return Change(SubscriberRecord.of(sub), changed=False)
            if not self._request_is_current(s, sub.id, request_event_id):
                raise InvalidToken(
                    "this confirmation link has been replaced or withdrawn", hint="sign up again"
                )
            s.execute(delete(Suppression).where(Suppression.email_hash == email_hash(sub.email)))
            set_status(s, sub, ACTIVE, "confirm", now, detail="confirmed signup")
            chosen = topics_requested(s.get(SubscriberEvent, request_event_id))
            if chosen is not None:
                old = tuple(t.topic for t in sub.topics)
                write_topic_changes(s, {sub.id: (old, chosen)}, {sub.id: ACTIVE}, now, "signup")
                s.expire(sub, ["topics"])
            return Change(SubscriberRecord.of(sub), changed=True)

    def signup_to_confirm(self, subscriber_id: int, request_event_id: int) -> SubscriberRecord:
        """The subscriber a confirmation link would activate (nothing changes); InvalidToken when stale."""
        with self.session() as s:
            sub = self._lookup(s, subscriber_id)
            if sub is None:
                raise InvalidToken("this confirmation link names nobody", hint="sign up again")
            if sub.status != ACTIVE and not self._request_is_current(s, sub.id, request_event_id):
                raise InvalidToken(
                    "this confirmation link has been replaced or withdrawn", hint="sign up again"
                )
            return SubscriberRecord.of(sub)

    @staticmethod
    def _request_is_current(s: Session, subscriber_id: int, request_event_id: int) -> bool:
        """True when this is the newest signup request and no opt-out came after it."""
        newest = s.scalar(
            select(func.max(SubscriberEvent.id)).where(
                SubscriberEvent.subscriber_id == subscriber_id, SubscriberEvent.method == "signup"
            )
        )
        later_opt_out = s.scalar(
            select(
                exists().where(
                    SubscriberEvent.subscriber_id == subscriber_id,
                    SubscriberEvent.id > request_event_id,
                    SubscriberEvent.new_status.in_(OPTED_OUT),
                    SubscriberEvent.method != "signup",
                )
            )
        )
        return newest == request_event_id and not later_opt_out


def open_store(config: Config, *, create: bool = False) -> SubscriberStore:
    """Open the configured database, applying pending migrations first.

    Only commands that add data pass `create`; without it a database with no schema is refused
    (NoSchema), so `serve` or `send` never run against an empty list by mistake.
    """
    engine, reader = db.open_database(config.database_url, create=create)
    return SubscriberStore(engine, reader)
