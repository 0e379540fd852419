"""Sign-off: approvals (append-only), emailed approval requests, and the approval a campaign went out under.

Revision ID: 0005
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0006"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    # Never updated or deleted: each row is one reviewer's approval of one exact version (its hash).
    op.create_table(
        "approvals",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),  # issue | welcome
        sa.Column("content", sa.String(200), nullable=False),  # the folder name, or "welcome"
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("reviewer", sa.String(50), nullable=False),  # the [reviewers] key
        sa.Column("reviewer_name", sa.String(200), nullable=False),
        sa.Column("clinical", sa.Boolean, nullable=False),
        sa.Column("approved_at", TZ, nullable=False),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
        sa.Column("given", sa.String(200), nullable=False),  # "terminal, by OS user X" or "emailed link"
        sa.Column("sources", sa.Text, nullable=False),  # JSON: the files, for --diff
        sa.Column("request_id", sa.Integer, nullable=True, unique=True),  # the emailed link it came by
    )
    op.create_index("ix_approvals_content", "approvals", ["kind", "content", "hash"])
    # One row per "Approve this version" email; the link is single-use (used_at) and expires.
    op.create_table(
        "approval_requests",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("content", sa.String(200), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("reviewer", sa.String(50), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("expires_at", TZ, nullable=False),
        sa.Column("used_at", TZ, nullable=True),
        sa.Column("sources", sa.Text, nullable=False),
    )
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("approval_id", sa.Integer, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("approval_id")
    op.drop_table("approval_requests")
    op.drop_index("ix_approvals_content", table_name="approvals")
    op.drop_table("approvals")
