"""Reading the list: subscribers streamed with their tags and topics, and counts per status.

Streams read through the reader engine, which never holds the SQLite write lock (db/__init__.py).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import replace

from sqlalchemy import Connection, Engine, exists, func, select
from sqlalchemy.orm import Session, aliased

from pain_news import db
from pain_news.config.clock import as_utc
from pain_news.db.models import Subscriber, SubscriberTag, SubscriberTopic, Suppression
from pain_news.errors import StoreError
from pain_news.subscribers.store.core import CHUNK, SubscriberRecord
from pain_news.vocab import STATUSES


def iter_subscribers(
    reader: Engine, status: str | None, tag: str | None, topic: str | None
) -> Iterator[SubscriberRecord]:
    """Stream subscribers in id order without loading them all (server-side cursor on PostgreSQL).

    Tags come with the stream; topics are read for each chunk of subscribers by id range (a
    second join would multiply the rows).
    """
    if status is not None and status not in STATUSES:
        raise StoreError(f"unknown status {status!r} (known: {', '.join(STATUSES)})")
    cols = (
        Subscriber.id,
        Subscriber.email,
        Subscriber.first_name,
        Subscriber.last_name,
        Subscriber.status,
        SubscriberTag.tag,
        Subscriber.source,
        Subscriber.created_at,
        Subscriber.status_changed_at,
        Subscriber.opted_out_at,
        Subscriber.opt_out_method,
        Subscriber.opt_out_campaign_id,
        Subscriber.language,
    )
    query = select(*cols).outerjoin(SubscriberTag, SubscriberTag.subscriber_id == Subscriber.id)
    if status:
        query = query.where(Subscriber.status == status)
    if tag:
        wanted = aliased(SubscriberTag)  # apart from the joined tags, which list all of them
        query = query.where(exists().where(wanted.subscriber_id == Subscriber.id, wanted.tag == tag))
    if topic:
        query = query.where(
            exists().where(SubscriberTopic.subscriber_id == Subscriber.id, SubscriberTopic.topic == topic)
        )
    query = query.order_by(Subscriber.id, SubscriberTag.tag)
    with db.store_errors(), reader.connect() as conn, reader.connect() as topics_conn:
        rows = conn.execution_options(stream_results=True, yield_per=2000).execute(query)
        chunk: list[SubscriberRecord] = []
        for _, group in itertools.groupby(rows, key=lambda r: r[0]):
            first, *rest = group
            tags = tuple(t for t in [first[5], *(r[5] for r in rest)] if t is not None)
            chunk.append(
                SubscriberRecord(
                    first[0],
                    first[1],
                    first[2],
                    first[3],
                    first[4],
                    tags,
                    first[6],
                    as_utc(first[7]),
                    as_utc(first[8]),
                    as_utc(first[9]),
                    first[10],
                    first[11],
                    language=first[12],
                )
            )
            if len(chunk) == CHUNK:
                yield from _with_topics(topics_conn, chunk)
                chunk = []
        yield from _with_topics(topics_conn, chunk)


def stats(s: Session) -> dict[str, int]:
    """Subscriber counts per status (every status present), plus suppressions."""
    rows = s.execute(select(Subscriber.status, func.count()).group_by(Subscriber.status))
    counts = {status: count for status, count in rows}
    result = {status: int(counts.get(status, 0)) for status in STATUSES}
    result["suppressed (deleted or unknown)"] = int(s.scalar(select(func.count(Suppression.id))) or 0)
    return result


def _with_topics(conn: Connection, chunk: list[SubscriberRecord]) -> list[SubscriberRecord]:
    """The chunk's records with their topics (one query over the chunk's id range)."""
    if not chunk:
        return chunk
    query = (
        select(SubscriberTopic.subscriber_id, SubscriberTopic.topic)
        .where(SubscriberTopic.subscriber_id.between(chunk[0].id, chunk[-1].id))
        .order_by(SubscriberTopic.subscriber_id, SubscriberTopic.topic)
    )
    found: dict[int, list[str]] = {}
    for sid, name in conn.execute(query):
        found.setdefault(sid, []).append(name)
    if not found:
        return chunk
    return [replace(r, topics=tuple(found[r.id])) if r.id in found else r for r in chunk]
