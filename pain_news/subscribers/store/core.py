"""The store's foundation, shared by its parts: address rules, plain records, the one
status-change path (`write_status_changes`: status + history row) and the bulk SQL helpers.

Functions here take the session they work in; `SubscriberStore` (__init__.py) owns the engines and
the transactions.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import String, Table, bindparam, func, insert, select, text, update
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from pain_news import db
from pain_news.config.clock import as_utc
from pain_news.db.models import Subscriber, SubscriberAlias, SubscriberEvent, SubscriberTag, Suppression
from pain_news.errors import StoreError
from pain_news.i18n import N_
from pain_news.mailbox import mailbox_key, spellings
from pain_news.subscribers.store.withdrawal_queue import queue_restores, queue_withdrawals
from pain_news.vocab import ACTIVE, OPT_OUT_METHODS, OPTED_OUT

MAX_NAME = 200
MAX_TAG = 100
# PostgreSQL advisory lock held by whoever may add a new address (import, add) and by an opt-out of
# an address we do not have yet, so that opt-out waits for the import and then finds the new row.
_NEW_ADDRESS_LOCK = 0x7061696F


def control_character(value: str) -> str | None:
    """The first control character in `value` as U+XXXX (NUL, escape, ...), or None."""
    if value.isprintable():  # fast path: printable text holds no control character
        return None
    found = next((ch for ch in value if unicodedata.category(ch) == "Cc"), None)
    return None if found is None else f"U+{ord(found):04X}"


def check_text(label: str, value: str, limit: int) -> str:
    """A name or tag stripped; StoreError when too long or holding control characters."""
    value = value.strip()
    if len(value) > limit:
        raise StoreError(f"{label} longer than {limit} characters")
    bad = control_character(value)
    if bad:
        raise StoreError(f"{label} contains a control character ({bad})")
    return value


def email_key(email: str) -> str:
    """The identity of a mailbox, one for every spelling of it (pain_news/mailbox.py)."""
    return mailbox_key(email)


def email_hash(email: str) -> str:
    """What a suppression keeps of a deleted address: sha256 of its key."""
    return hashlib.sha256(email_key(email).encode("utf-8")).hexdigest()


def lookup_hashes(email: str) -> tuple[str, ...]:
    """The hashes a suppression of this mailbox may be stored under: its key's, first, then those of
    the spellings keyed before keys were canonical (migration 0008 could not re-hash an erased
    address; tests/test_mailbox.py). One hash for a plain ASCII address."""
    return tuple(hashlib.sha256(k.encode("utf-8")).hexdigest() for k in spellings(email))


def suppressed_keys(s: Session, keys: Iterable[str]) -> set[str]:
    """Which of these addresses (or keys) are suppressed under any of their spellings' hashes."""
    by_hash = {h: k for k in keys for h in lookup_hashes(k)}
    return {by_hash[h] for h in suppressed_hashes(s, list(by_hash))}


# RFC 5322 dot-atom local part (no leading, trailing or doubled dots): the common ASCII case.
_DOT_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")


@lru_cache(maxsize=4096)
def _domain_error(domain: str) -> str | None:
    """email-validator's verdict on a domain, cached: a list has few domains, and checking is slow."""
    from email_validator import EmailNotValidError, validate_email

    try:
        validate_email(f"a@{domain}", check_deliverability=False)
    except EmailNotValidError as exc:
        return str(exc)
    return None


def check_email(email: str) -> str:
    """The address stripped, or StoreError naming what is wrong with it (no DNS lookups)."""
    address = email.strip()
    local, at, domain = address.rpartition("@")
    quick = at and len(address) <= 254 and len(local) <= 64 and _DOT_ATOM.fullmatch(local)
    if not (quick and address.isprintable()):  # printable: neither empty nor holding a control character
        if not address:
            raise StoreError(N_("missing email address"))
        if control_character(address):  # would reach the database (PostgreSQL refuses NUL) or a mail header
            raise StoreError(f"invalid email address {address!r}: it contains a control character")
    if quick:
        problem = _domain_error(domain)  # fast path: same verdict as below, ~10x quicker on big imports
    else:
        from email_validator import EmailNotValidError, validate_email

        try:
            validate_email(address, check_deliverability=False)
            problem = None
        except EmailNotValidError as exc:
            problem = str(exc)
    if problem:
        raise StoreError(f"invalid email address {address!r}: {problem}")
    return address


@dataclass(frozen=True)
class SubscriberRecord:
    """A subscriber as plain data."""

    id: int
    email: str
    first_name: str
    last_name: str
    status: str
    tags: tuple[str, ...]
    source: str
    created_at: dt.datetime
    status_changed_at: dt.datetime
    opted_out_at: dt.datetime | None
    opt_out_method: str | None
    opt_out_campaign_id: int | None
    topics: tuple[str, ...] = ()  # chosen by the reader (config [topics]); never staff tags
    language: str = "en"  # primary subtag of one of newsletter.languages (config/languages.py)

    @classmethod
    def of(cls, s: Subscriber) -> SubscriberRecord:
        return cls(
            s.id,
            s.email,
            s.first_name,
            s.last_name,
            s.status,
            tuple(t.tag for t in s.tags),
            s.source,
            as_utc(s.created_at),
            as_utc(s.status_changed_at),
            as_utc(s.opted_out_at),
            s.opt_out_method,
            s.opt_out_campaign_id,
            tuple(t.topic for t in s.topics),
            s.language,
        )


@dataclass(frozen=True)
class EventRecord:
    """One line of a subscriber's history."""

    at: dt.datetime
    old_status: str | None
    new_status: str
    method: str
    campaign_id: int | None
    detail: str


@dataclass(frozen=True)
class Change:
    """The outcome of a status change request: `changed` is False when it was already so."""

    subscriber: SubscriberRecord
    changed: bool


@dataclass(frozen=True)
class SignupRequest:
    """A signup to confirm: who, which request (for the confirmation token), and whether to mail."""

    subscriber_id: int
    request_event_id: int
    send_confirmation: bool


def clean_tags(tags: Iterable[str]) -> list[str]:
    """Tags lower-cased, de-duplicated and sorted; StoreError for one too long or with control characters."""
    return sorted({check_text(f"tag {t.strip()[:20]!r}", t, MAX_TAG).lower() for t in tags if t.strip()})


def new_subscriber(
    email: str, first: str, last: str, status: str, source: str, now: dt.datetime, language: str = "en"
) -> Subscriber:
    first, last = check_text("first name", first, MAX_NAME), check_text("last name", last, MAX_NAME)
    return Subscriber(
        email=email,
        email_key=email_key(email),
        first_name=first,
        last_name=last,
        status=status,
        source=source[:300],
        language=language,
        created_at=now,
        status_changed_at=now,
    )


@dataclass(frozen=True)
class StatusChange:
    """One status change of one subscriber, as the history row it writes."""

    subscriber_id: int
    old_status: str
    new_status: str
    method: str  # link, one-click, webhook, sendgrid-sync, manual, import, resubscribe, confirm
    campaign_id: int | None = None
    detail: str = ""


# Core tables: bulk statements through them skip the ORM's per-row work.
SUBSCRIBERS = cast(Table, Subscriber.__table__)
TAGS = cast(Table, SubscriberTag.__table__)
HISTORY = cast(Table, SubscriberEvent.__table__)
SUPPRESSIONS = cast(Table, Suppression.__table__)
CHUNK = 2000  # rows per round trip: keeps IN (...) lists and executemany batches moderate

# `status = :old` makes a change apply only to the state it was decided on: the rows are locked
# before deciding, so it always holds — and if it ever did not, an opt-out is never overwritten.
_CHANGE_STATUS = (
    update(SUBSCRIBERS)
    .where(SUBSCRIBERS.c.id == bindparam("sid"), SUBSCRIBERS.c.status == bindparam("old"))
    .values(
        status=bindparam("new"),
        status_changed_at=bindparam("at"),
        opted_out_at=bindparam("out_at"),
        opt_out_method=bindparam("out_method"),
        opt_out_campaign_id=bindparam("out_campaign"),
    )
)


def history_row(
    sid: int,
    old: str | None,
    new: str,
    method: str,
    now: dt.datetime,
    detail: str,
    campaign: int | None = None,
) -> dict[str, object]:
    """A subscriber_events row as a dict for executemany."""
    return {
        "subscriber_id": sid,
        "at": now,
        "old_status": old,
        "new_status": new,
        "method": method,
        "campaign_id": campaign,
        "detail": detail,
    }


def write_status_changes(s: Session, changes: Sequence[StatusChange], now: dt.datetime) -> None:
    """Change statuses and log each change: the one place statuses change after creation.

    Callers hold the rows locked (FOR UPDATE) from the read that decided the change. Changes to
    the same subscriber apply in order. An import's opt-out is recorded as a manual one.

    Every opt-out also queues, in this transaction, the withdrawal of a message a scheduled send
    still holds for them at SendGrid, and every way back to active the lifting of our suppression
    there (store/withdrawal_queue.py): no path can change a status without it.
    """
    if not changes:
        return
    updates = []
    for c in changes:
        out = c.new_status in OPTED_OUT
        updates.append(
            {
                "sid": c.subscriber_id,
                "old": c.old_status,
                "new": c.new_status,
                "at": now,
                "out_at": now if out else None,
                "out_method": (c.method if c.method in OPT_OUT_METHODS else "manual") if out else None,
                "out_campaign": c.campaign_id if out else None,
            }
        )
    for start in range(0, len(updates), CHUNK):
        s.execute(_CHANGE_STATUS, updates[start : start + CHUNK])
    history = [
        history_row(c.subscriber_id, c.old_status, c.new_status, c.method, now, c.detail, c.campaign_id)
        for c in changes
    ]
    for start in range(0, len(history), CHUNK):
        s.execute(insert(HISTORY), history[start : start + CHUNK])
    queue_withdrawals(s, sorted({c.subscriber_id for c in changes if c.new_status in OPTED_OUT}), now)
    back = {c.subscriber_id for c in changes if c.new_status == ACTIVE and c.old_status in OPTED_OUT}
    queue_restores(s, sorted(back), now)


def set_status(
    s: Session,
    sub: Subscriber,
    status: str,
    method: str,
    now: dt.datetime,
    campaign_id: int | None = None,
    detail: str = "",
) -> None:
    """One subscriber's change through `write_status_changes`, mirrored on the loaded object."""
    write_status_changes(s, [StatusChange(sub.id, sub.status, status, method, campaign_id, detail)], now)
    out = status in OPTED_OUT
    for name, value in (
        ("status", status),
        ("status_changed_at", now),
        ("opted_out_at", now if out else None),
        ("opt_out_method", (method if method in OPT_OUT_METHODS else "manual") if out else None),
        ("opt_out_campaign_id", campaign_id if out else None),
    ):
        set_committed_value(sub, name, value)


def insert_ignoring_conflicts(s: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """INSERT … ON CONFLICT DO NOTHING in batches (a row already there, or added meanwhile, is kept)."""
    statement: Any
    if db.is_postgresql(s):  # each dialect imported only where it is used
        from sqlalchemy.dialects import postgresql

        statement = postgresql.insert(table).on_conflict_do_nothing()
    else:
        from sqlalchemy.dialects import sqlite

        statement = sqlite.insert(table).on_conflict_do_nothing()
    for start in range(0, len(rows), CHUNK):
        s.execute(statement, rows[start : start + CHUNK])


def suppress_many(s: Session, emails: Iterable[str], reason: str, now: dt.datetime) -> None:
    """Record hashed addresses that no import or add may bring (back) in; known ones stay as they are."""
    hashes = sorted({email_hash(e) for e in emails})
    rows = [{"email_hash": h, "reason": reason[:40], "created_at": now} for h in hashes]
    insert_ignoring_conflicts(s, SUPPRESSIONS, rows)


def suppressed_hashes(s: Session, hashes: Sequence[str]) -> set[str]:
    """Which of these address hashes are suppressed."""
    found: set[str] = set()
    for start in range(0, len(hashes), CHUNK):
        chunk = list(hashes[start : start + CHUNK])
        found.update(
            s.scalars(select(Suppression.email_hash).where(one_of(s, Suppression.email_hash, chunk)))
        )
    return found


def pg_array(values: Iterable[object]) -> str:
    """A PostgreSQL array literal ('{"a","b",NULL}') for CAST(:p AS text[]) or integer[].

    One string parameter instead of a list: psycopg dumps a list element by element in Python,
    which costs more than the statement itself at import and webhook sizes.
    """
    values = values if isinstance(values, list) else list(values)
    try:
        blob = "\x00".join(values)  # type: ignore[arg-type]  # TypeError: not all of them text
    except TypeError:
        pass
    else:  # text only (the common case): one join, when nothing needs a backslash
        if values and '"' not in blob and "\\" not in blob:
            return '{"' + '","'.join(values) + '"}'  # type: ignore[arg-type]
    return (
        "{"
        + ",".join(
            "NULL"
            if v is None
            else str(v)
            if isinstance(v, int)
            else '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'
            for v in values
        )
        + "}"
    )


def one_of(s: Session, column: Any, values: Sequence[Any]) -> Any:
    """`column IN (...)`; on PostgreSQL `column IN (SELECT unnest(CAST(:literal AS type[])))`, one parameter
    however many values (converting a 2,000-value IN list costs psycopg more than the query)."""
    if db.is_postgresql(s):
        from sqlalchemy.dialects.postgresql import ARRAY  # its 40 ms import only where it is used

        literal = bindparam(None, pg_array(values), type_=String)
        # IN (SELECT unnest(...)): the planner joins it through the index; `= ANY(...)` of a cast
        # parameter can get a sequential scan comparing every row with every value.
        return column.in_(select(func.unnest(sql_cast(literal, ARRAY(column.type)))))
    return column.in_(list(values))


def lock_new_addresses(s: Session) -> None:
    """Serialise adding new addresses with opt-outs of unknown ones (PostgreSQL; SQLite already is)."""
    if db.is_postgresql(s):
        s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _NEW_ADDRESS_LOCK})


def lookup(s: Session, who: str | int, *, lock: bool = False) -> Subscriber | None:
    """The subscriber with this address or id, or None; with `lock`, its row stays locked until commit
    (SELECT ... FOR UPDATE).

    Every status change locks first, so on PostgreSQL a change that commits meanwhile can never be
    overwritten from a stale read (SQLite's BEGIN IMMEDIATE serialises writers anyway). The parts call
    it as `core.lookup`, so tests/test_store.py can race a change against this one read.
    """
    if isinstance(who, int):
        found = s.get(Subscriber, who, with_for_update=lock or None)
        if found is None:  # an id merged into another (migration 0008): links sent to it still work
            alias = s.scalar(select(SubscriberAlias.subscriber_id).where(SubscriberAlias.old_id == who))
            found = None if alias is None else s.get(Subscriber, alias, with_for_update=lock or None)
        return found
    query = select(Subscriber).where(Subscriber.email_key == email_key(who))
    return s.scalar(query.with_for_update() if lock else query)


def find(s: Session, who: str | int, *, lock: bool = False) -> Subscriber:
    """As `lookup`, but StoreError when there is nobody."""
    sub = lookup(s, who, lock=lock)
    if sub is None:
        raise StoreError(f"no subscriber {who!r}", hint="see 'pain-news subscribers list'")
    return sub
