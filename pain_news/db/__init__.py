"""Database engines, schema migrations, and the one conversion of database errors into StoreError.

SQLite runs in WAL mode; PostgreSQL goes through psycopg. The store layer (store.py, ledger.py)
wraps its work in `store_errors()`, so no SQLAlchemy exception ever leaves it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session

from pain_news.errors import ConfigError, NoSchema, StoreConflict, StoreError, StoreUnavailable
from pain_news.private_files import create_private_file

MIGRATIONS = Path(__file__).parent / "migrations"
BUSY_TIMEOUT_MS = 10_000
_MIGRATION_LOCK = 0x7061696E  # "pain": one advisory lock id so two processes never migrate at once


# ---- errors --------------------------------------------------------------------------------


def is_postgresql(bind: Engine | Connection | Session) -> bool:
    """Is this database PostgreSQL (else SQLite)? The one way every layer asks."""
    if isinstance(bind, Session):
        return bind.get_bind().dialect.name == "postgresql"
    return bind.dialect.name == "postgresql"


@contextmanager
def store_errors() -> Iterator[None]:
    """Turn a database failure inside the block into a StoreError (also usable as a decorator).

    StoreUnavailable when the database cannot be reached or is locked (try again later),
    StoreConflict when a rule or a concurrent change refused the write, StoreError otherwise.
    The original is dropped (`from None`): a driver's DETAIL lines may quote a row's values.
    """
    try:
        yield
    except (DBAPIError, PoolTimeout) as exc:
        raise describe_error(exc) from None


def describe_error(exc: DBAPIError | PoolTimeout) -> StoreError:
    """One line for a database failure, without the statement or its parameters (personal data)."""
    if isinstance(exc, PoolTimeout):
        return StoreUnavailable(
            "the subscriber database is busy: no connection became free in time; nothing was saved",
            hint="run the command again in a moment",
        )
    if isinstance(exc, OperationalError):  # connection-level: the driver's first line says what
        return StoreUnavailable(
            f"the subscriber database failed: {_first_line(exc)}",
            hint="check that the database server is running and reachable; nothing was saved",
        )
    if isinstance(exc, IntegrityError):
        return StoreConflict(
            "the subscriber database refused a conflicting change (another process changed the "
            "same subscriber at the same time, or a database rule refused it); nothing was saved",
            hint="run the command again",
        )
    return StoreError(
        f"the subscriber database refused the operation ({type(exc.orig).__name__}); nothing was saved",
        hint="run the command again; if it fails the same way, --debug shows where (never names or addresses)",
    )


def _first_line(exc: DBAPIError) -> str:
    """The driver's first line (what failed), never its DETAIL lines, which may quote row values."""
    message = str(exc.orig).strip()
    return message.splitlines()[0] if message else type(exc.orig).__name__


def _unreachable(exc: OperationalError) -> StoreUnavailable:
    return StoreUnavailable(
        f"cannot open the subscriber database: {_first_line(exc)}",
        hint="check database.url / PAIN_NEWS_DATABASE_URL and that the server is running",
    )


# ---- engines -------------------------------------------------------------------------------


def parse_url(url: str) -> URL:
    """`url` parsed and checked: SQLite, or PostgreSQL through psycopg (ConfigError otherwise)."""
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
    elif backend != "sqlite":
        raise ConfigError(f"unsupported database {backend!r} (use sqlite:/// or postgresql+psycopg://)")
    return parsed


def shown_url(url: str) -> str:
    """`url` as it may be shown (stderr, logs): the password masked as ***."""
    return parse_url(url).render_as_string(hide_password=True)


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL (None for PostgreSQL and in-memory databases)."""
    parsed = parse_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def make_engine(url: str, *, immediate: bool = True) -> Engine:
    """An engine for `url`; SQLite gets WAL, a busy timeout and foreign keys.

    Every engine hides statement parameters (`hide_parameters`): a database error, its `str()` and
    a `--debug` traceback never show the names and addresses a statement carried.

    With `immediate`, SQLite transactions start with BEGIN IMMEDIATE: a writer waits for the
    lock up front (busy timeout) instead of failing when it upgrades a read lock while `serve`
    writes. Long read-only streams use an engine with `immediate=False` so they block nobody.

    A SQLite file that does not exist yet is created here, 0600 (its new folders 0700), before
    SQLite would create it with the umask's mode; SQLite gives its -wal and -shm files the
    database file's mode. `open_database` decides beforehand whether it may be created at all.
    """
    parsed = parse_url(url)
    if parsed.get_backend_name() == "postgresql":
        return create_engine(parsed, pool_pre_ping=True, hide_parameters=True)
    path = sqlite_file(url)
    if path is not None:
        create_private_file(path)
    engine = create_engine(parsed, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000}, hide_parameters=True)

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


def open_database(url: str, *, create: bool) -> tuple[Engine, Engine]:
    """(writer, reader) engines for `url`, with the schema brought to the newest migration.

    Without `create`, a database that has no schema yet is refused (NoSchema) and nothing is
    made: `serve` started in the wrong folder must not answer unsubscribes from an empty list.
    The reader differs from the writer on SQLite only: it never takes the write lock.
    """
    path = sqlite_file(url)
    if path is not None and not create:
        if not path.exists():
            raise _no_schema(f"{path} does not exist")
        if not _sqlite_has_schema(path):  # looked at read-only: a wrong file stays as it was
            raise _no_schema("it has no Pain News tables yet")
    engine = make_engine(url)
    reader = engine if is_postgresql(engine) else make_engine(url, immediate=False)
    try:
        if not create and _revision(engine) is None:
            raise _no_schema("it has no Pain News tables yet")
        upgrade(engine)
    except BaseException:
        engine.dispose()
        reader.dispose()
        raise
    return engine, reader


def _sqlite_has_schema(path: Path) -> bool:
    """Whether the SQLite file has a migration revision, read without changing a byte of it."""
    try:
        with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as conn:
            return conn.execute("SELECT version_num FROM alembic_version").fetchone() is not None
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return False
        raise StoreUnavailable(
            f"cannot open the subscriber database {path}: {exc}",
            hint="check database.url / PAIN_NEWS_DATABASE_URL and the file's permissions",
        ) from None
    except sqlite3.DatabaseError:
        raise StoreError(
            f"{path} is not a SQLite database", hint="check database.url / PAIN_NEWS_DATABASE_URL"
        ) from None


def _no_schema(why: str) -> NoSchema:
    return NoSchema(
        f"the subscriber database is not set up: {why}",
        hint="check database.url / PAIN_NEWS_DATABASE_URL and the folder you run in; "
        "to start a new list, run `pain-news db upgrade`",
    )


# ---- migrations ----------------------------------------------------------------------------


def _alembic_config(connection: Connection) -> Any:
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None for an empty database).

    Read with one query, not through Alembic: every command that opens the store asks, and
    importing Alembic and reading the migration scripts took longer than the rest of opening it.
    """
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _revision(engine: Engine) -> str | None:
    try:
        return current_revision(engine)
    except OperationalError as exc:
        raise _unreachable(exc) from None
    except DBAPIError as exc:
        raise describe_error(exc) from None


# The newest migration shipped with this version of pain-news: tests/test_migrations.py fails
# when a new migration is added without moving this to it.
HEAD_REVISION = "0012"


def head_revision() -> str:
    """The newest migration shipped with this version of pain-news."""
    return HEAD_REVISION


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Apply every pending migration in one transaction; returns (from_revision, to_revision)."""
    head = head_revision()
    before = _revision(engine)
    if before == head:
        return before, head
    from alembic import command  # only when there is something to apply: it is slow to import

    try:
        with engine.begin() as conn:
            if is_postgresql(engine):
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})
            command.upgrade(_alembic_config(conn), "head")
    except OperationalError as exc:
        raise _unreachable(exc) from None
    except DBAPIError as exc:
        raise describe_error(exc) from None
    return before, head
