"""Database errors: parameters never shown, converted to StoreError where they leave the store (docs/development.md, Errors)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from pain_news import db
from pain_news.errors import StoreConflict, StoreError, StoreUnavailable


def test_every_engine_hides_statement_parameters_in_errors(any_store):
    from sqlalchemy.exc import DBAPIError

    engine = db.make_engine(any_store.engine.url.render_as_string(hide_password=False))
    try:
        with pytest.raises(DBAPIError) as info, engine.begin() as conn:
            conn.execute(
                text("INSERT INTO no_such_table (email) VALUES (:email)"), {"email": "ana@example.org"}
            )
    finally:
        engine.dispose()
    assert "ana@example.org" not in str(info.value)
    assert "parameters hidden" in str(info.value)


def test_a_refused_write_leaves_the_store_as_store_conflict_without_the_row(any_store):
    with pytest.raises(StoreConflict) as info, any_store.session() as s:
        # NOT NULL columns missing: PostgreSQL's DETAIL line would quote the failing row
        s.execute(text("INSERT INTO subscribers (email) VALUES (:email)"), {"email": "ana@example.org"})
    error = info.value
    assert "ana@example.org" not in str(error) and "nothing was saved" in str(error)
    assert error.__cause__ is None and error.__suppress_context__  # no driver text in a --debug traceback
    assert any_store.get("ana@example.org") is None


def test_an_unreachable_database_is_store_unavailable():
    with pytest.raises(StoreUnavailable, match="cannot open the subscriber database") as info:
        db.open_database("postgresql+psycopg://nobody:secret-pw@127.0.0.1:1/none", create=False)
    assert "secret-pw" not in str(info.value) and "secret-pw" not in (info.value.hint or "")


def test_store_errors_works_as_a_decorator_and_passes_other_errors_through(any_store):
    @db.store_errors()
    def broken() -> None:
        with any_store.engine.connect() as conn:
            conn.execute(text("SELECT * FROM no_such_table WHERE email = :e"), {"e": "ana@example.org"})

    with pytest.raises(StoreError, match="the subscriber database") as info:
        broken()
    assert "ana@example.org" not in str(info.value)
    with pytest.raises(ValueError), db.store_errors():
        raise ValueError("not a database error")


def test_a_file_that_is_not_a_database_is_named(tmp_path):
    junk = tmp_path / "news.db"
    junk.write_text("not sqlite at all, just text that is long enough to have a header" * 4)
    with pytest.raises(StoreError, match="is not a SQLite database"):
        db.open_database(f"sqlite:///{junk}", create=False)
