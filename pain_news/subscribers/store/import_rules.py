"""What an import does to each row, as rules: never revive an opt-out, and what a subscriber
chose themselves (name, topics) wins over the file — an import fills only what is empty
(docs/subscribers.md, tests/test_importer.py). bulk_import.py reads and writes; this plans.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from pain_news.db.models import Subscriber, SubscriberTag
from pain_news.subscribers.store.core import (
    StatusChange,
    history_row,
    one_of,
    suppressed_keys,
)
from pain_news.subscribers.store.topics import topics_of
from pain_news.vocab import ACTIVE, OPTED_OUT


class ImportRow(Protocol):
    """One merged row of an import file (subscribers_csv.Row)."""

    @property
    def email(self) -> str: ...
    @property
    def first_name(self) -> str: ...
    @property
    def last_name(self) -> str: ...
    @property
    def tags(self) -> tuple[str, ...]: ...
    @property
    def status(self) -> str: ...  # "" or an opt-out status the file itself records
    @property
    def topics(self) -> tuple[str, ...]: ...  # keys of config [topics], already checked
    @property
    def language(self) -> str: ...  # one of newsletter.languages, or "" (new: the default; known: kept)


@dataclass
class ImportCounts:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    kept_opted_out: int = 0
    kept_own_choice: int = 0  # the subscriber's own name or topics kept over the file's


@dataclass
class Known:
    """What the store holds for one chunk's addresses, read with the rows locked."""

    existing: dict[str, Any]  # email_key -> result row (id, email_key, status, first_name, last_name)
    suppressed: set[str]
    tags: dict[int, set[str]]
    topics: dict[int, set[str]]


def read_known(s: Session, keys: list[str]) -> Known:
    """Existing rows locked until commit (FOR UPDATE on PostgreSQL), so no opt-out can land between
    this read and the writes below; on SQLite the import already holds the write lock."""
    if not keys:
        return Known({}, set(), {}, {})
    existing = {
        r.email_key: r
        for r in s.execute(
            select(
                Subscriber.id,
                Subscriber.email_key,
                Subscriber.status,
                Subscriber.first_name,
                Subscriber.last_name,
                Subscriber.language,
                Subscriber.chose_own_topics,
                Subscriber.name_set_by_subscriber,
            )
            .where(one_of(s, Subscriber.email_key, keys))
            .order_by(Subscriber.id)
            .with_for_update()
        )
    }
    suppressed = suppressed_keys(s, [k for k in keys if k not in existing])
    known_tags: dict[int, set[str]] = {}
    if existing:
        for sid, tag in s.execute(
            select(SubscriberTag.subscriber_id, SubscriberTag.tag).where(
                one_of(s, SubscriberTag.subscriber_id, [r.id for r in existing.values()])
            )
        ):
            known_tags.setdefault(sid, set()).add(tag)
    known_topics = topics_of(s, [r.id for r in existing.values()]) if existing else {}
    return Known(existing, suppressed, known_tags, known_topics)


@dataclass
class ImportPlan:
    """The writes one chunk needs."""

    new_rows: list[ImportRow]
    name_updates: list[dict[str, object]]
    opt_outs: list[StatusChange]
    tags: list[dict[str, object]]
    history: list[dict[str, object]]
    topics: dict[int, tuple[set[str], set[str]]]  # subscriber id -> (old, new) topics
    statuses: dict[int, str]


def plan_chunk(
    chunk: Sequence[ImportRow],
    keys: Sequence[str],
    known: Known,
    source: str,
    now: dt.datetime,
    counts: ImportCounts,
) -> ImportPlan:
    plan = ImportPlan([], [], [], [], [], {}, {})
    for row, key in zip(chunk, keys, strict=True):
        old = known.existing.get(key)
        if old is None:
            if key in known.suppressed:
                counts.kept_opted_out += 1  # deleted or opted out elsewhere: never re-added
            else:
                plan.new_rows.append(row)
            continue
        if old.status in OPTED_OUT:
            counts.kept_opted_out += 1  # sacred: not reactivated, not even touched
            continue
        # An import fills only what is empty; a name the subscriber set themselves stays, even empty.
        own_name = old.name_set_by_subscriber
        first = old.first_name if own_name else old.first_name or row.first_name
        last = old.last_name or row.last_name
        language = row.language or old.language
        added_tags = set(row.tags) - known.tags.get(old.id, set())
        had_topics = known.topics.get(old.id, set())
        new_topics = not set(row.topics) <= had_topics
        if new_topics and not old.chose_own_topics:  # topics in the file are added, never taken away
            plan.topics[old.id] = (had_topics, had_topics | set(row.topics))
            plan.statuses[old.id] = row.status or old.status
        if (own_name and row.first_name and row.first_name != old.first_name) or (
            new_topics and old.chose_own_topics
        ):
            counts.kept_own_choice += 1  # what the subscriber chose on the preference page or signup form
        named = first != old.first_name or last != old.last_name or language != old.language
        if not (named or added_tags or row.status):
            counts.unchanged += old.id not in plan.topics
            counts.updated += old.id in plan.topics
            continue
        counts.updated += 1
        plan.name_updates.append({"sid": old.id, "first": first, "last": last, "lang": language})
        if row.status:  # the file itself records an opt-out (e.g. an export from another list)
            plan.opt_outs.append(
                StatusChange(old.id, old.status, row.status, "import", detail=f"opt-out recorded in {source}")
            )
        else:
            plan.history.append(
                history_row(old.id, old.status, old.status, "import", now, f"updated from {source}")
            )
        plan.tags.extend({"subscriber_id": old.id, "tag": t} for t in sorted(added_tags))
    return plan


def plan_new_topics(plan: ImportPlan, subscriber_id: int, row: ImportRow) -> None:
    """A new subscriber's topics from the file, to write with the chunk's other topic changes."""
    if row.topics:
        plan.topics[subscriber_id] = (set(), set(row.topics))
        plan.statuses[subscriber_id] = row.status or ACTIVE
