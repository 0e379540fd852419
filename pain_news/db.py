"""Database engines and schema migrations (SQLite in WAL mode, or PostgreSQL via psycopg)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, OperationalError

from pain_news.errors import ConfigError, StoreError

MIGRATIONS = Path(__file__).parent / "migrations"
BUSY_TIMEOUT_MS = 10_000
_MIGRATION_LOCK = 0x7061696E  # "pain": one advisory lock id so two processes never migrate at once


def make_engine(url: str, *, immediate: bool = True) -> Engine:
    """An engine for `url`; SQLite gets WAL, a busy timeout and foreign keys.

    With `immediate`, SQLite transactions start with BEGIN IMMEDIATE: a writer waits for the
    lock up front (busy timeout) instead of failing when it upgrades a read lock while `serve`
    writes. Long read-only streams use an engine with `immediate=False` so they block nobody.
    """
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        # Never echo the URL: it may carry the database password.
        raise ConfigError(
            "database.url / PAIN_NEWS_DATABASE_URL is not a valid database URL",
            hint="write sqlite:///subscribers/pain-news.db or postgresql+psycopg://user:password@host:5432/dbname",
        ) from None
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        if parsed.get_driver_name() != "psycopg":
            raise ConfigError(
                f"database.url must use the psycopg driver, got {parsed.drivername!r}",
                hint="write postgresql+psycopg://user@host/dbname",
            )
        return create_engine(parsed, pool_pre_ping=True)
    if backend != "sqlite":
        raise ConfigError(f"unsupported database {backend!r} (use sqlite:/// or postgresql+psycopg://)")
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(parsed, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves (below)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")  # `serve` and the CLI share the file
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        # FULL: with WAL, NORMAL survives a process crash but a power loss may roll back the last
        # commits — a ledger row recorded `sent` could come back `pending` and be mailed again.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def describe_error(exc: DBAPIError) -> StoreError:
    """One line for a database failure, without the statement or its parameters (personal data)."""
    orig = exc.orig
    if isinstance(exc, OperationalError):  # connection-level: the driver's first line says what
        first = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
        return StoreError(
            f"the subscriber database failed: {first}",
            hint="check that the database server is running and reachable; nothing was saved",
        )
    if isinstance(exc, IntegrityError):
        return StoreError(
            "the subscriber database refused a conflicting change (another process changed the "
            "same subscriber at the same time, or a database rule refused it); nothing was saved",
            hint="run the command again",
        )
    return StoreError(
        f"the subscriber database refused the operation ({type(orig).__name__}); nothing was saved",
        hint="run the command again with --debug for details",
    )


def _alembic_config(connection: Connection) -> Any:
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None for an empty database)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str:
    """The newest migration shipped with this version of pain-news."""
    from alembic.script import ScriptDirectory

    return str(ScriptDirectory(str(MIGRATIONS)).get_current_head())


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Apply every pending migration in one transaction; returns (from_revision, to_revision)."""
    from alembic import command

    head = head_revision()
    try:
        before = current_revision(engine)
        if before == head:
            return before, head
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})
            command.upgrade(_alembic_config(conn), "head")
    except OperationalError as exc:
        raise StoreError(
            f"cannot open the subscriber database: {exc.orig}",
            hint="check database.url / PAIN_NEWS_DATABASE_URL and that the server is running",
        ) from None
    return before, head
