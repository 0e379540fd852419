"""Audience: topics readers choose, campaign kinds (issue or welcome), targeted topics and scheduling.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    # Topics sit beside staff tags, never inside them: readers choose topics, staff tags never
    # decide who gets what.
    op.create_table(
        "subscriber_topics",
        sa.Column(
            "subscriber_id", sa.Integer, sa.ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("topic", sa.String(50), primary_key=True),
    )
    op.create_index("ix_subscriber_topics_topic", "subscriber_topics", ["topic"])
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default="issue"))
        # The topics a send targeted, ";"-joined and sorted; "" means the whole list.
        batch.add_column(sa.Column("topics", sa.Text, nullable=False, server_default=""))
        batch.add_column(sa.Column("scheduled_at", TZ, nullable=True))
        batch.add_column(sa.Column("batch_id", sa.String(100), nullable=True))
        batch.add_column(sa.Column("cancelled_at", TZ, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        for column in ("cancelled_at", "batch_id", "scheduled_at", "topics", "kind"):
            batch.drop_column(column)
    op.drop_index("ix_subscriber_topics_topic", table_name="subscriber_topics")
    op.drop_table("subscriber_topics")
