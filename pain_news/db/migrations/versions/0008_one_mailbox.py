"""One mailbox, one subscriber; and what a subscriber chose themselves.

Re-keys every subscriber on the canonical form (pain_news/mailbox.py: NFC local part, A-label
domain, lower-cased) and merges the rows that turn out to be one mailbox: the survivor is the one
that opted out if any did (an opt-out always wins), else the active one, else the oldest; the
others' history, tags, topics and replies move to it, and `subscriber_aliases` keeps their old ids
so links already sent to them still work. Adds the flags recording what a subscriber chose
themselves, filled from the history (tests/test_mailbox.py, tests/test_migrations.py).

Revision ID: 0008
Revises: 0005
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

import sqlalchemy as sa
from alembic import op

from pain_news.mailbox import mailbox_key

revision = "0008"
down_revision = "0003"
branch_labels = None
depends_on = None

OPTED_OUT = ("unsubscribed", "bounced", "complained")  # pain_news/vocab.py at this revision
OWN_PAGE = "%(preference page)"  # the detail the preference page's history rows end with


def upgrade() -> None:
    op.create_table(
        "subscriber_aliases",
        sa.Column("old_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column(
            "subscriber_id",
            sa.Integer,
            sa.ForeignKey("subscribers.id", ondelete="CASCADE"),
            nullable=False,
        ),
    )
    op.create_index("ix_subscriber_aliases_subscriber_id", "subscriber_aliases", ["subscriber_id"])
    # Plain ADD COLUMN, never batch mode here: rebuilding `subscribers` on SQLite drops the old
    # table, and with foreign keys on that deletes every subscriber's tags, topics and history.
    for column in ("chose_own_topics", "name_set_by_subscriber"):
        op.add_column("subscribers", sa.Column(column, sa.Boolean, nullable=False, server_default=sa.false()))
    bind = op.get_bind()
    _fill_choices(bind)
    _merge_and_rekey(bind)


def _fill_choices(bind: sa.Connection) -> None:
    """The flags from the history: topics or a first name changed on the preference page, or topics
    chosen on a signup form that was confirmed."""
    bind.execute(
        sa.text(
            "UPDATE subscribers SET chose_own_topics = :t WHERE id IN (SELECT subscriber_id "
            "FROM subscriber_events WHERE (method = 'topics' AND detail LIKE :own) "
            "OR (method = 'topics' AND detail LIKE '%(signup)'))"
        ),
        {"t": True, "own": OWN_PAGE},
    )
    bind.execute(
        sa.text(
            "UPDATE subscribers SET name_set_by_subscriber = :t WHERE id IN (SELECT subscriber_id "
            "FROM subscriber_events WHERE method = 'name' AND detail LIKE :own)"
        ),
        {"t": True, "own": OWN_PAGE},
    )


def _rank(row: Any) -> tuple[int, str, int]:
    """Survivor first: an opt-out (the earliest), then an active subscriber, then the oldest.
    (SQLite hands the time back as ISO text, PostgreSQL as a datetime: compared as ISO text.)"""
    if row.status in OPTED_OUT:
        return (0, str(row.opted_out_at or "9999"), row.id)
    return (1 if row.status == "active" else 2, "", row.id)


def _merge_and_rekey(bind: sa.Connection) -> None:
    rows = bind.execute(
        sa.text("SELECT id, email, email_key, status, opted_out_at FROM subscribers ORDER BY id")
    ).all()
    groups: dict[str, list[Any]] = defaultdict(list)
    for row in rows:
        groups[mailbox_key(row.email)].append(row)
    merges: list[tuple[int, int]] = []  # (old id, survivor id)
    rekeys: list[dict[str, object]] = []
    for key, group in groups.items():
        survivor = min(group, key=_rank)
        merges += [(r.id, survivor.id) for r in group if r.id != survivor.id]
        if survivor.email_key != key:
            rekeys.append({"sid": survivor.id, "k": key})
    if merges:
        _merge(bind, merges)
    if rekeys:  # after the merged rows are gone, so no new key meets an old one
        bind.execute(sa.text("UPDATE subscribers SET email_key = :k WHERE id = :sid"), rekeys)


def _merge(bind: sa.Connection, merges: list[tuple[int, int]]) -> None:
    """Move what belongs to each merged id to its survivor, keep the old id as an alias, delete it."""
    now = dt.datetime.now(dt.UTC)
    pairs = [{"old": old, "new": new} for old, new in merges]
    for table, column in (("subscriber_tags", "tag"), ("subscriber_topics", "topic")):
        bind.execute(
            sa.text(
                f"INSERT INTO {table} (subscriber_id, {column}) SELECT :new, {column} FROM {table} t "
                f"WHERE t.subscriber_id = :old AND NOT EXISTS (SELECT 1 FROM {table} u "
                f"WHERE u.subscriber_id = :new AND u.{column} = t.{column})"
            ),
            pairs,
        )
    bind.execute(
        sa.text("UPDATE subscriber_events SET subscriber_id = :new WHERE subscriber_id = :old"), pairs
    )
    bind.execute(sa.text("UPDATE reply_events SET subscriber_id = :new WHERE subscriber_id = :old"), pairs)
    # Either row's own choices stay the subscriber's own.
    bind.execute(
        sa.text(
            "UPDATE subscribers SET chose_own_topics = (chose_own_topics OR (SELECT o.chose_own_topics "
            "FROM subscribers o WHERE o.id = :old)), name_set_by_subscriber = (name_set_by_subscriber "
            "OR (SELECT o.name_set_by_subscriber FROM subscribers o WHERE o.id = :old)) WHERE id = :new"
        ),
        pairs,
    )
    status = {r.id: r.status for r in bind.execute(sa.text("SELECT id, status FROM subscribers"))}
    bind.execute(
        sa.text(
            "INSERT INTO subscriber_events (subscriber_id, at, old_status, new_status, method, campaign_id, "
            "detail) VALUES (:new, :at, :st, :st, 'merge', NULL, :detail)"
        ),
        [
            {"new": new, "at": now, "st": status[new], "detail": f"subscriber {old} merged: the same mailbox"}
            for old, new in merges
        ],
    )
    bind.execute(sa.text("DELETE FROM subscriber_tags WHERE subscriber_id = :old"), pairs)
    bind.execute(sa.text("DELETE FROM subscriber_topics WHERE subscriber_id = :old"), pairs)
    bind.execute(sa.text("DELETE FROM subscribers WHERE id = :old"), pairs)
    bind.execute(sa.text("INSERT INTO subscriber_aliases (old_id, subscriber_id) VALUES (:old, :new)"), pairs)


def downgrade() -> None:
    # Merged rows are not split again: their history lives on the survivor.
    for column in ("name_set_by_subscriber", "chose_own_topics"):  # SQLite 3.35+ drops in place
        op.execute(f"ALTER TABLE subscribers DROP COLUMN {column}")
    op.drop_index("ix_subscriber_aliases_subscriber_id", table_name="subscriber_aliases")
    op.drop_table("subscriber_aliases")
