"""The Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import secrets

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text

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


# ---- 0008: one mailbox, one subscriber -------------------------------------------------------

_NFC = "jos\u00e9@example.org"
_NFD = "jose\u0301@example.org"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request, tmp_path):
    """An empty database on SQLite, or a fresh PostgreSQL schema (dropped afterwards)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    url = request.getfixturevalue("postgres_url")
    schema = f"pn_test_{secrets.token_hex(6)}"
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in url else "?"
    try:
        yield f"{url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def _seed_0006(engine):
    """Subscribers as the old keys left them: two spellings of one mailbox each for Bob and José."""
    from alembic import command

    from pain_news.db import _alembic_config

    with engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "0006")
    at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    people = [  # id, email, old key, status
        (1, "bob@bücher.de", "bob@bücher.de", "active"),
        (2, "BOB@xn--bcher-kva.de", "bob@xn--bcher-kva.de", "unsubscribed"),
        (3, _NFC, _NFC, "active"),
        (4, _NFD, _NFD, "active"),
        (5, "ana@example.org", "ana@example.org", "active"),
    ]
    with engine.begin() as conn:
        for sid, email, key, status in people:
            conn.execute(
                text(
                    "INSERT INTO subscribers (id, email, email_key, first_name, last_name, status, source, "
                    "created_at, status_changed_at, opted_out_at, opt_out_method) VALUES "
                    "(:id, :e, :k, '', '', :st, 'manual', :at, :at, :out, :method)"
                ),
                {
                    "id": sid,
                    "e": email,
                    "k": key,
                    "st": status,
                    "at": at,
                    "out": at if status != "active" else None,
                    "method": "link" if status != "active" else None,
                },
            )
            conn.execute(
                text(
                    "INSERT INTO subscriber_events (subscriber_id, at, old_status, new_status, method, detail) "
                    "VALUES (:id, :at, NULL, 'active', 'manual', 'added')"
                ),
                {"id": sid, "at": at},
            )
        conn.execute(text("INSERT INTO subscriber_tags (subscriber_id, tag) VALUES (1, 'knee'), (4, 'back')"))
        conn.execute(
            text("INSERT INTO subscriber_topics (subscriber_id, topic) VALUES (1, 'news'), (2, 'news')")
        )
        conn.execute(
            text(
                "INSERT INTO subscriber_events (subscriber_id, at, old_status, new_status, method, detail) "
                "VALUES (5, :at, 'active', 'active', 'topics', '+news (preference page)')"
            ),
            {"at": at},
        )


def test_0008_merges_spellings_of_one_mailbox_with_the_opt_out_winning(database_url, make_config):
    from pain_news.subscribers.store import open_store

    engine = create_engine(database_url)
    _seed_0006(engine)
    engine.dispose()
    store = open_store(make_config({"PAIN_NEWS_DATABASE_URL": database_url}))  # migrates to head
    try:
        people = {r.id: r for r in store.iter_subscribers()}
        assert sorted(people) == [2, 3, 5]
        bob, jose = people[2], people[3]
        assert bob.status == "unsubscribed"  # the opt-out wins over the active spelling
        assert (bob.tags, bob.topics) == (("knee",), ("news",))
        assert (jose.status, jose.tags) == ("active", ("back",))
        # Links already sent to a merged-away id reach the survivor.
        ids = {who: getattr(store.get(who), "id", None) for who in (1, 4, _NFD, "JOSÉ@example.org")}
        assert ids == {1: 2, 4: 3, _NFD: 3, "JOSÉ@example.org": 3}
        assert not store.unsubscribe(1).changed  # Bob's old link: already unsubscribed
        assert store.unsubscribe(4, method="link").subscriber.id == 3
        history = [e.detail for e in store.history(2)[1]]
        assert "subscriber 1 merged: the same mailbox" in history and len(history) == 3
        with store.engine.connect() as conn:
            keys: dict[int, str] = dict(conn.execute(text("SELECT id, email_key FROM subscribers")).all())
            flags: dict[int, bool] = dict(
                conn.execute(text("SELECT id, chose_own_topics FROM subscribers")).all()
            )
        assert keys == {2: "bob@xn--bcher-kva.de", 3: _NFC, 5: "ana@example.org"}
        assert flags == {2: False, 3: False, 5: True}  # from the preference page's history
    finally:
        store.close()


# ---- 0012: a signup's name waits for its confirmation ---------------------------------------


def test_0012_moves_a_pending_signups_name_onto_its_newest_request(database_url, make_config):
    from alembic import command

    from pain_news.db import _alembic_config
    from pain_news.subscribers.store import open_store

    engine = create_engine(database_url)
    with engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "0010")
    at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    with engine.begin() as conn:
        for sid, email, name, status in [
            (1, "nia@example.org", "Call 555-0100 now", "pending"),
            (2, "ana@example.org", "Ana", "active"),
        ]:
            conn.execute(
                text(
                    "INSERT INTO subscribers (id, email, email_key, first_name, last_name, status, source, "
                    "created_at, status_changed_at) VALUES (:id, :e, :e, :n, '', :st, 'signup', :at, :at)"
                ),
                {"id": sid, "e": email, "n": name, "st": status, "at": at},
            )
        for sid, status in [(1, "pending"), (1, "pending"), (2, "pending"), (2, "active")]:
            conn.execute(
                text(
                    "INSERT INTO subscriber_events (subscriber_id, at, old_status, new_status, method, detail) "
                    "VALUES (:id, :at, NULL, :st, :m, '')"
                ),
                {"id": sid, "at": at, "st": status, "m": "signup" if status == "pending" else "confirm"},
            )
    engine.dispose()
    store = open_store(make_config({"PAIN_NEWS_DATABASE_URL": database_url}))  # migrates to head
    try:
        assert {r.email: r.first_name for r in store.iter_subscribers()} == {
            "nia@example.org": "",  # a stranger's words no longer greet anyone
            "ana@example.org": "Ana",  # confirmed long ago: theirs
        }
        with store.engine.connect() as conn:
            waiting = conn.execute(text("SELECT id, submitted_name FROM subscriber_events ORDER BY id")).all()
        assert [name for _, name in waiting] == [None, "Call 555-0100 now", None, None]
        newest = max(event_id for event_id, _ in waiting[:2])
        # its owner confirms: the name is theirs now
        assert store.confirm_signup(1, newest).subscriber.first_name == "Call 555-0100 now"
    finally:
        store.close()
