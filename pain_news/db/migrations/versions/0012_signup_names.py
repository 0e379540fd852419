"""Signup names wait for confirmation: the name typed on a signup form is kept with its request.

A pending subscriber's first name came from a form anyone can post, so it moves to the newest
signup request (subscriber_events.submitted_name) and the subscriber row keeps none until the
owner of the address confirms (subscribers/store/signups.py, docs/security.md).

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_SUBSCRIBERS = sa.table(
    "subscribers",
    sa.column("id", sa.Integer),
    sa.column("status", sa.String),
    sa.column("first_name", sa.String),
)
_EVENTS = sa.table(
    "subscriber_events",
    sa.column("id", sa.Integer),
    sa.column("subscriber_id", sa.Integer),
    sa.column("method", sa.String),
    sa.column("submitted_name", sa.String),
)


def upgrade() -> None:
    with op.batch_alter_table("subscriber_events") as batch:
        batch.add_column(sa.Column("submitted_name", sa.String(200), nullable=True))
    pending = sa.and_(_SUBSCRIBERS.c.status == "pending", _SUBSCRIBERS.c.first_name != "")
    newest_request = (
        sa.select(sa.func.max(_EVENTS.c.id))
        .where(_EVENTS.c.subscriber_id == _SUBSCRIBERS.c.id, _EVENTS.c.method == "signup")
        .scalar_subquery()
    )
    moved = sa.select(_SUBSCRIBERS.c.first_name).where(
        _SUBSCRIBERS.c.id == _EVENTS.c.subscriber_id, pending, newest_request == _EVENTS.c.id
    )
    op.execute(
        _EVENTS.update()
        .where(_EVENTS.c.method == "signup", sa.exists(moved))
        .values(submitted_name=moved.scalar_subquery())
    )
    op.execute(_SUBSCRIBERS.update().where(pending).values(first_name=""))


def downgrade() -> None:
    with op.batch_alter_table("subscriber_events") as batch:
        batch.drop_column("submitted_name")
