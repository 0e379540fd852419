"""Languages: each subscriber's language, each campaign's editions, the edition each recipient got.

Revision ID: 0010
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # "en" for everyone already on the list: the only language before newsletter.languages.
    with op.batch_alter_table("subscribers") as batch:
        batch.add_column(sa.Column("language", sa.String(8), nullable=False, server_default="en"))
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("language", sa.String(8), nullable=False, server_default="en"))
    with op.batch_alter_table("send_ledger") as batch:
        batch.add_column(sa.Column("language", sa.String(8), nullable=False, server_default=""))
    op.create_table(
        "campaign_editions",
        sa.Column(
            "campaign_id", sa.Integer, sa.ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("language", sa.String(8), primary_key=True),
        sa.Column("subject", sa.String(500), nullable=False),
        sa.Column("html", sa.Text, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("campaign_editions")
    for table in ("send_ledger", "campaigns", "subscribers"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("language")
