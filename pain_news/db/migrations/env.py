"""Alembic environment: runs on the connection `pain_news.migrate` hands over (no alembic.ini)."""

from __future__ import annotations

from alembic import context

from pain_news.db.models import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
