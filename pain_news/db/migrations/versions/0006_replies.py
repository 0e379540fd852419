"""Replies: one row per inbound message and what was done with it, nothing of the message itself.

Revision ID: 0006
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # When, who (if a subscriber), which campaign (if known), what was done; the sender's hash
    # only to answer a stranger at most once per period (pain_news/db/models.py ReplyEvent).
    op.create_table(
        "reply_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "subscriber_id",
            sa.Integer,
            sa.ForeignKey("subscribers.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("campaign_id", sa.Integer, nullable=True),
        sa.Column("action", sa.String(30), nullable=False),
        sa.Column("answered", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("sender_hash", sa.String(64), nullable=True),
    )
    op.create_index("ix_reply_events_subscriber_id", "reply_events", ["subscriber_id"])
    op.create_index("ix_reply_events_campaign_id", "reply_events", ["campaign_id"])
    op.create_index("ix_reply_events_sender_hash", "reply_events", ["sender_hash"])


def downgrade() -> None:
    for column in ("sender_hash", "campaign_id", "subscriber_id"):
        op.drop_index(f"ix_reply_events_{column}", table_name="reply_events")
    op.drop_table("reply_events")
