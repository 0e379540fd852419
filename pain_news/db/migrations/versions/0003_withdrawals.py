"""Withdrawals: opt-outs and erasures made before a scheduled send's time, queued for SendGrid.

Revision ID: 0003
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0005"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        # The unsubscribe group a scheduled send's requests carried: where a later opt-out is suppressed.
        batch.add_column(sa.Column("asm_group_id", sa.Integer, nullable=True))
    op.create_table(
        "withdrawals",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column(
            "campaign_id", sa.Integer, sa.ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=True
        ),
        sa.Column("subscriber_id", sa.Integer, nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text, nullable=False, server_default=""),
        sa.Column("late_at", TZ, nullable=True),
    )
    op.create_index("ix_withdrawals_campaign_id", "withdrawals", ["campaign_id"])
    op.create_table(
        "global_unsubscribes",
        sa.Column("email_hash", sa.String(64), primary_key=True),
        sa.Column("created_at", TZ, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("global_unsubscribes")
    op.drop_index("ix_withdrawals_campaign_id", table_name="withdrawals")
    op.drop_table("withdrawals")
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("asm_group_id")
