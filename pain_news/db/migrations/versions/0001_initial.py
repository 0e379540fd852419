"""Initial schema: subscribers, tags, events, suppressions, delivery events, campaigns, send ledger.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    # sqlite_autoincrement: a deleted subscriber's id is never given to someone new, so an old
    # unsubscribe link can never act on another person.
    op.create_table(
        "subscribers",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("email_key", sa.String(320), nullable=False, unique=True),
        sa.Column("first_name", sa.String(200), nullable=False),
        sa.Column("last_name", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("source", sa.String(300), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("status_changed_at", TZ, nullable=False),
        sa.Column("opted_out_at", TZ, nullable=True),
        sa.Column("opt_out_method", sa.String(20), nullable=True),
        sa.Column("opt_out_campaign_id", sa.Integer, nullable=True),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_subscribers_status", "subscribers", ["status"])
    op.create_table(
        "subscriber_tags",
        sa.Column(
            "subscriber_id", sa.Integer, sa.ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("tag", sa.String(100), primary_key=True),
    )
    op.create_index("ix_subscriber_tags_tag", "subscriber_tags", ["tag"])
    op.create_table(
        "subscriber_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "subscriber_id", sa.Integer, sa.ForeignKey("subscribers.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("at", TZ, nullable=False),
        sa.Column("old_status", sa.String(16), nullable=True),
        sa.Column("new_status", sa.String(16), nullable=False),
        sa.Column("method", sa.String(20), nullable=False),
        sa.Column("campaign_id", sa.Integer, nullable=True),
        sa.Column("detail", sa.Text, nullable=False),
    )
    op.create_index("ix_subscriber_events_subscriber_id", "subscriber_events", ["subscriber_id"])
    op.create_table(
        "suppressions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("reason", sa.String(40), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_table(
        "delivery_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("sg_event_id", sa.String(100), nullable=False, unique=True),
        sa.Column("event", sa.String(30), nullable=False),
        sa.Column("campaign_id", sa.Integer, nullable=True),
        sa.Column("subscriber_id", sa.Integer, nullable=True),
        sa.Column("occurred_at", TZ, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
    )
    op.create_index("ix_delivery_events_event", "delivery_events", ["event"])
    op.create_index("ix_delivery_events_campaign_id", "delivery_events", ["campaign_id"])
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("issue", sa.String(200), nullable=False),
        sa.Column("subject", sa.String(500), nullable=False),
        sa.Column("provider", sa.String(20), nullable=False),
        sa.Column("html", sa.Text, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_index("ix_campaigns_issue", "campaigns", ["issue"])
    op.create_table(
        "send_ledger",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "campaign_id", sa.Integer, sa.ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("subscriber_id", sa.Integer, nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("batch", sa.Integer, nullable=True),
        sa.Column("message_id", sa.String(300), nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.UniqueConstraint("campaign_id", "subscriber_id", name="uq_send_ledger_campaign_subscriber"),
    )
    op.create_index(
        "ix_send_ledger_campaign_state_position", "send_ledger", ["campaign_id", "state", "position"]
    )


def downgrade() -> None:
    for table in (
        "send_ledger",
        "campaigns",
        "delivery_events",
        "suppressions",
        "subscriber_events",
        "subscriber_tags",
        "subscribers",
    ):
        op.drop_table(table)
