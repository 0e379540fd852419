"""Alembic migrations for the subscriber store; applied by `open_store` and `pain-news db upgrade`."""
