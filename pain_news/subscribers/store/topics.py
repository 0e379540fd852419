"""Topics readers choose (config [topics]): kept beside staff tags, every change in the history.

Keys are checked against the configuration by the callers (CLI, import, web); the store keeps
what it is given, lower-cased and sorted, and writes one history row (method "topics", detail
"+events -news") per subscriber whose topics change.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import cast

from sqlalchemy import Table, delete, insert, select
from sqlalchemy.orm import Session

from pain_news.config.topics import MAX_TOPIC_KEY, normalize_topics
from pain_news.db.models import SubscriberEvent, SubscriberTopic
from pain_news.subscribers.store import core
from pain_news.subscribers.store.core import (
    CHUNK,
    HISTORY,
    MAX_NAME,
    Change,
    SubscriberRecord,
    check_text,
    history_row,
    one_of,
)

TOPIC_METHOD = "topics"
TOPICS = cast(Table, SubscriberTopic.__table__)


def clean_topics(topics: Iterable[str]) -> tuple[str, ...]:
    """Topic keys as stored (config/topics.py: normalize_topics), each within the column's width."""
    return tuple(check_text("topic", t, MAX_TOPIC_KEY) for t in normalize_topics(topics))


def topics_detail(old: Iterable[str], new: Iterable[str], via: str = "") -> str:
    """`+events -news` (added, then removed), with where the change came from in brackets."""
    before, after = set(old), set(new)
    parts = [f"+{t}" for t in sorted(after - before)] + [f"-{t}" for t in sorted(before - after)]
    return " ".join(parts) + (f" ({via})" if via else "")


def topics_of(s: Session, subscriber_ids: Sequence[int]) -> dict[int, set[str]]:
    """The topics of these subscribers (one query per chunk of ids)."""
    found: dict[int, set[str]] = {}
    for start in range(0, len(subscriber_ids), CHUNK):
        chunk = list(subscriber_ids[start : start + CHUNK])
        query = select(SubscriberTopic.subscriber_id, SubscriberTopic.topic).where(
            one_of(s, SubscriberTopic.subscriber_id, chunk)
        )
        for sid, topic in s.execute(query):
            found.setdefault(sid, set()).add(topic)
    return found


def write_topic_changes(
    s: Session,
    changes: Mapping[int, tuple[Iterable[str], Iterable[str]]],
    status_of: Mapping[int, str],
    now: dt.datetime,
    via: str = "",
) -> int:
    """Set each subscriber's topics from old to new (id -> (old, new)) in bulk, with a history row
    each; subscribers whose topics stay the same are left alone. Returns how many changed."""
    added: list[dict[str, object]] = []
    removed: list[tuple[int, str]] = []
    history: list[dict[str, object]] = []
    for sid, (old, new) in changes.items():
        before, after = set(old), set(new)
        if before == after:
            continue
        added += [{"subscriber_id": sid, "topic": t} for t in sorted(after - before)]
        removed += [(sid, t) for t in sorted(before - after)]
        status = status_of[sid]
        history.append(history_row(sid, status, status, TOPIC_METHOD, now, topics_detail(before, after, via)))
    for sid, topic in removed:  # rare (the preference page, one subscriber): one by one is fine
        s.execute(
            delete(SubscriberTopic).where(
                SubscriberTopic.subscriber_id == sid, SubscriberTopic.topic == topic
            )
        )
    for start in range(0, len(added), CHUNK):
        s.execute(insert(TOPICS), added[start : start + CHUNK])
    for start in range(0, len(history), CHUNK):
        s.execute(insert(HISTORY), history[start : start + CHUNK])
    return len(history)


_REQUESTED = "confirmation requested"
_TOPICS_MARK = "; topics: "


def signup_detail(topics: Iterable[str] | None) -> str:
    """The signup request's history detail, carrying the topics chosen on the form until confirmation."""
    if topics is None:
        return _REQUESTED
    return _REQUESTED + _TOPICS_MARK + (" ".join(clean_topics(topics)) or "(none)")


def topics_requested(event: SubscriberEvent | None) -> tuple[str, ...] | None:
    """The topics a signup request chose (see signup_detail); None when its form offered none."""
    if event is None or _TOPICS_MARK not in event.detail:
        return None
    chosen = event.detail.split(_TOPICS_MARK, 1)[1]
    return () if chosen == "(none)" else tuple(chosen.split())


def update_preferences(
    s: Session,
    who: str | int,
    topics: Iterable[str] | None,
    first_name: str | None,
    via: str,
    now: dt.datetime,
    language: str | None = None,
    by_subscriber: bool = False,
) -> Change:
    """Topics, first name and/or language of one subscriber, each change in the history. `by_subscriber`:
    the subscriber chose them (the preference page), so no import changes them again (import_rules.py)."""
    wanted = None if topics is None else clean_topics(topics)
    name = None if first_name is None else check_text("first name", first_name, MAX_NAME)
    sub = core.find(s, who, lock=True)
    changed = False
    if wanted is not None:
        old = tuple(t.topic for t in sub.topics)
        changed |= bool(write_topic_changes(s, {sub.id: (old, wanted)}, {sub.id: sub.status}, now, via))
    if name is not None and name != sub.first_name:
        detail = "first name changed" + (f" ({via})" if via else "")
        s.execute(insert(HISTORY), [history_row(sub.id, sub.status, sub.status, "name", now, detail)])
        sub.first_name = name
        changed = True
    if by_subscriber:
        sub.chose_own_topics = sub.chose_own_topics or wanted is not None
        sub.name_set_by_subscriber = sub.name_set_by_subscriber or name is not None
    if language is not None and language != sub.language:
        detail = f"language {sub.language} → {language}" + (f" ({via})" if via else "")
        s.execute(insert(HISTORY), [history_row(sub.id, sub.status, sub.status, "language", now, detail)])
        sub.language = language
        changed = True
    s.flush()
    s.expire(sub, ["topics"])
    return Change(SubscriberRecord.of(sub), changed=changed)
