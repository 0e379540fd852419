"""The Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from pain_news.db import MIGRATIONS, head_revision
from pain_news.db.models import Base


def test_migrated_schema_matches_the_models(any_store):
    with any_store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_migrations_form_one_chain():
    # A new migration must chain onto the newest one; two heads would make `db upgrade` fail.
    script = ScriptDirectory(str(MIGRATIONS))
    assert script.get_heads() == [head_revision()]  # db.HEAD_REVISION moved to the new one
    assert [rev.revision for rev in script.walk_revisions()][-1] == "0001"
