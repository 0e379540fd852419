"""Retired signing keys (by fingerprint, with the highest subscriber id when first retired) and
the fresh preference links mailed in the last day.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "retired_keys",
        sa.Column("fingerprint", sa.String(64), primary_key=True),
        sa.Column("highest_subscriber_id", sa.Integer, nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "fresh_link_requests",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "subscriber_id",
            sa.Integer,
            sa.ForeignKey("subscribers.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_fresh_link_requests_subscriber_id", "fresh_link_requests", ["subscriber_id"])


def downgrade() -> None:
    op.drop_index("ix_fresh_link_requests_subscriber_id", table_name="fresh_link_requests")
    op.drop_table("fresh_link_requests")
    op.drop_table("retired_keys")
