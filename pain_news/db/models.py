"""SQLAlchemy 2 models: subscribers, their status history, suppressions, campaigns and the send ledger.

Schema changes go through Alembic migrations in pain_news/db/migrations/ — never create_all on a
real database. Times are timezone-aware UTC.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from pain_news.vocab import CAMPAIGN_ISSUE


class Base(DeclarativeBase):
    pass


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Subscriber(Base):
    __tablename__ = "subscribers"
    # AUTOINCREMENT on SQLite: a deleted subscriber's id is never reused, so an old signed
    # unsubscribe link can never name a newer person (matches migration 0001).
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320))  # as given
    email_key: Mapped[str] = mapped_column(String(320), unique=True)  # pain_news/mailbox.py: one per mailbox
    first_name: Mapped[str] = mapped_column(String(200), default="")
    last_name: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(16), index=True)
    source: Mapped[str] = mapped_column(String(300), default="manual")  # import:<file>, signup, manual
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    status_changed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    opted_out_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    opt_out_method: Mapped[str | None] = mapped_column(String(20), nullable=True)
    opt_out_campaign_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # What the subscriber chose themselves (the preference page, a confirmed signup's form) wins
    # over any import: an import fills only what is empty and adds topics only to those who never
    # chose their own (docs/subscribers.md, migration 0008).
    chose_own_topics: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    name_set_by_subscriber: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Primary language subtag, lower case (config/languages.py); rows older than migration 0010
    # were given "en", the default language before languages were configurable.
    language: Mapped[str] = mapped_column(String(8), default="en", server_default="en")

    tags: Mapped[list[SubscriberTag]] = relationship(
        back_populates="subscriber",
        cascade="all, delete-orphan",
        lazy="selectin",
        order_by="SubscriberTag.tag",
    )
    topics: Mapped[list[SubscriberTopic]] = relationship(
        back_populates="subscriber",
        cascade="all, delete-orphan",
        lazy="selectin",
        order_by="SubscriberTopic.topic",
    )


class SubscriberAlias(Base):
    """An id merged into another subscriber's (two spellings of one mailbox, migration 0008): links
    already sent to the old id keep working for the subscriber it became."""

    __tablename__ = "subscriber_aliases"

    old_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"), index=True)


class SubscriberTag(Base):
    __tablename__ = "subscriber_tags"

    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(100), primary_key=True, index=True)
    subscriber: Mapped[Subscriber] = relationship(back_populates="tags")


class SubscriberTopic(Base):
    """A topic the subscriber chose (config [topics]); kept apart from staff tags (migration 0002)."""

    __tablename__ = "subscriber_topics"

    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True
    )
    topic: Mapped[str] = mapped_column(String(50), primary_key=True, index=True)
    subscriber: Mapped[Subscriber] = relationship(back_populates="topics")


class SubscriberEvent(Base):
    """Append-only history of every status change (and other notable changes) of a subscriber."""

    __tablename__ = "subscriber_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"), index=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    old_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    new_status: Mapped[str] = mapped_column(String(16))
    method: Mapped[str] = mapped_column(String(20))  # import, signup, confirm, link, one-click, webhook, ...
    campaign_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    detail: Mapped[str] = mapped_column(Text, default="")
    # The first name typed on a signup form (method "signup" only): anyone may post the form, so
    # the name waits here until the address's owner confirms this request, and is cleared then,
    # by a newer confirmed request, or by the purge of stale signups (migration 0012).
    submitted_name: Mapped[str | None] = mapped_column(String(200), nullable=True)


class Suppression(Base):
    """Addresses that must never be mailed or re-added; only a hash is kept after `delete`."""

    __tablename__ = "suppressions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of the lower-cased address
    reason: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class DeliveryEvent(Base):
    """SendGrid event webhook records (delivered, open, click, ...), once per sg_event_id."""

    __tablename__ = "delivery_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sg_event_id: Mapped[str] = mapped_column(String(100), unique=True)
    event: Mapped[str] = mapped_column(String(30), index=True)
    campaign_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    subscriber_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    occurred_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    detail: Mapped[str] = mapped_column(Text, default="")


class ReplyEvent(Base):
    """One inbound message (a reply, an auto-reply, a bounce report) and what was done with it.

    Nothing of the message is kept: no address, subject or body (docs/security.md). `sender_hash`
    (sha256 of the lower-cased sender, as in `suppressions`) only lets the automatic answer go
    out at most once per period to a sender who is not a subscriber (migration 0006).
    """

    __tablename__ = "reply_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    subscriber_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscribers.id", ondelete="SET NULL"), nullable=True, index=True
    )
    campaign_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    action: Mapped[str] = mapped_column(String(30))  # vocab.REPLY_ACTIONS
    answered: Mapped[bool] = mapped_column(Boolean, default=False)
    sender_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)


class Campaign(Base):
    """One list send of one issue, with a frozen copy of what was sent."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    issue: Mapped[str] = mapped_column(String(200), index=True)  # issue folder name
    subject: Mapped[str] = mapped_column(String(500))
    provider: Mapped[str] = mapped_column(String(20))
    html: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    kind: Mapped[str] = mapped_column(String(16), default=CAMPAIGN_ISSUE, server_default=CAMPAIGN_ISSUE)
    # Targeted topics, ";"-joined and sorted; "" means the whole list.
    topics: Mapped[str] = mapped_column(Text, default="", server_default="")
    scheduled_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    batch_id: Mapped[str | None] = mapped_column(String(100), nullable=True)  # SendGrid mail batch
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # The SendGrid unsubscribe group its requests carried (None: none, or not SendGrid): an opt-out
    # before send_at is suppressed there, else on the global list (sendgrid/withdraw.py; migration 0003).
    asm_group_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    approval_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # the sign-off it went out under
    # The language of `subject`, `html` and `text` (the default edition); the others are
    # CampaignEdition rows (migration 0010).
    language: Mapped[str] = mapped_column(String(8), default="en", server_default="en")


class Approval(Base):
    """One reviewer's approval of one exact version of an issue (its hash); never updated or deleted."""

    __tablename__ = "approvals"
    __table_args__ = (Index("ix_approvals_content", "kind", "content", "hash"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # issue | welcome
    content: Mapped[str] = mapped_column(String(200))  # issue folder name, or "welcome"
    hash: Mapped[str] = mapped_column(String(64))
    reviewer: Mapped[str] = mapped_column(String(50))
    reviewer_name: Mapped[str] = mapped_column(String(200))
    clinical: Mapped[bool] = mapped_column(Boolean)
    approved_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    note: Mapped[str] = mapped_column(Text, default="", server_default="")
    given: Mapped[str] = mapped_column(String(200))  # "terminal, by OS user X" or "emailed link"
    sources: Mapped[str] = mapped_column(
        Text
    )  # JSON copy of the issue's files (pain_news/signoff/content.py)
    request_id: Mapped[int | None] = mapped_column(Integer, nullable=True, unique=True)


class ApprovalRequest(Base):
    """An emailed "Approve this version" link: bound to a hash and a reviewer, expiring, single-use."""

    __tablename__ = "approval_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(String(200))
    hash: Mapped[str] = mapped_column(String(64))
    reviewer: Mapped[str] = mapped_column(String(50))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    sources: Mapped[str] = mapped_column(Text)


class CampaignEdition(Base):
    """A frozen copy of one more edition of a campaign's issue (docs/sending.md#editions)."""

    __tablename__ = "campaign_editions"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True)
    language: Mapped[str] = mapped_column(String(8), primary_key=True)
    subject: Mapped[str] = mapped_column(String(500))
    html: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)


class LedgerEntry(Base):
    """One recipient of one campaign: pending → in_flight → sent | failed | uncertain.

    Why each state: docs/design/send-ledger.md.
    """

    __tablename__ = "send_ledger"
    __table_args__ = (
        UniqueConstraint("campaign_id", "subscriber_id", name="uq_send_ledger_campaign_subscriber"),
        Index("ix_send_ledger_campaign_state_position", "campaign_id", "state", "position"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    subscriber_id: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer)  # order taken at the start of the send
    email: Mapped[str] = mapped_column(String(320))  # snapshot: "did this patient get it?"
    state: Mapped[str] = mapped_column(String(16))
    batch: Mapped[int | None] = mapped_column(Integer, nullable=True)
    message_id: Mapped[str | None] = mapped_column(String(300), nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # The edition this recipient is sent: their language when the issue has it, else the default
    # (decided when the campaign is created; "" on rows older than migration 0010).
    language: Mapped[str] = mapped_column(String(8), default="", server_default="")
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class Withdrawal(Base):
    """A suppression still to be made at SendGrid (migration 0003; sendgrid/withdraw.py).

    `withdraw`: the subscriber opted out or was erased while a scheduled send held a message for
    them; `restore`: a confirmed re-subscription lifts our suppression. A row is deleted once
    SendGrid took the request, so an erased address stays here only until then; one that could not
    be made before send_at keeps no address (`email` emptied, `late_at` set) so `report` can say so.
    """

    __tablename__ = "withdrawals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    action: Mapped[str] = mapped_column(String(16))  # withdraw | restore (vocab.py)
    campaign_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=True, index=True
    )
    subscriber_id: Mapped[int] = mapped_column(Integer)  # no foreign key: an erased subscriber's row is gone
    email: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    late_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class GlobalUnsubscribe(Base):
    """An address we put on SendGrid's global unsubscribe list (hash only), so a confirmed
    re-subscription knows to take it off again (migration 0003)."""

    __tablename__ = "global_unsubscribes"

    email_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class RetiredKey(Base):
    """A previous secret key (PAIN_NEWS_PREVIOUS_SECRET_KEYS), by fingerprint only (links.py's
    key_fingerprint, never the key), with the highest subscriber id when it was first seen among
    the previous keys: a short key's links work only for subscribers who existed then (migration 0011)."""

    __tablename__ = "retired_keys"

    fingerprint: Mapped[str] = mapped_column(String(64), primary_key=True)
    highest_subscriber_id: Mapped[int] = mapped_column(Integer)
    first_seen_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class FreshLinkRequest(Base):
    """One "email me a fresh link" on an expired preference page that mailed a link: a subscriber
    gets at most a few a day; rows older than a day are deleted (migration 0011)."""

    __tablename__ = "fresh_link_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"), index=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
