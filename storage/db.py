"""Engines and migrations: SQLite (WAL, foreign keys, serialized writers) or any SQLAlchemy URL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    NoSuchModuleError,
    OperationalError,
)

from shots.errors import NotFound, StorageError

MIGRATIONS = Path(__file__).parent / "migrations"
MIGRATION_LOCK = 0x5709_4EE1
"""PostgreSQL advisory lock key held while storyreel migrates a database."""
CONNECT_TIMEOUT = 5
"""Seconds to reach a database server before giving up with one clear line."""
_MIGRATED: set[str] = set()
_ENGINES: dict[str, Engine] = {}


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin_immediate(conn: Any) -> None:
    # Take the write lock at BEGIN: concurrent writers queue instead of failing mid-transaction.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def safe_url(url: str) -> str:
    """The URL with any password hidden, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable URL>"


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL, foreign keys and IMMEDIATE transactions."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StorageError(f"database URL {url!r} is not a valid SQLAlchemy URL") from None
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    try:
        if parsed.get_backend_name() == "sqlite":
            engine = create_engine(parsed, connect_args={"timeout": 30, "isolation_level": None})
            event.listen(engine, "connect", _sqlite_pragmas)
            event.listen(engine, "begin", _sqlite_begin_immediate)
        else:
            # An unreachable server fails in seconds, not after the TCP stack gives up.
            args = {"connect_timeout": CONNECT_TIMEOUT} if parsed.get_backend_name() == "postgresql" else {}
            engine = create_engine(parsed, pool_pre_ping=True, connect_args=args)
    except (NoSuchModuleError, ImportError) as exc:
        raise StorageError(f"no driver for database URL {safe_url(url)}: {exc}") from None
    return engine


def migrate(engine: Engine, revision: str = "head") -> None:
    """Upgrade the schema to ``revision`` with Alembic (creates it from empty)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                # Two processes opening a new database at once would both create the tables.
                # (SQLite's transactions here are BEGIN IMMEDIATE: one writer at a time anyway.)
                connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    except (OperationalError, DBAPIError) as exc:
        raise StorageError(f"cannot use database {engine.url.render_as_string(hide_password=True)}: {first_line(exc)}") from None


def first_line(exc: BaseException) -> str:
    """The first line of a database error (the driver's message, without SQL or traceback)."""
    text = str(getattr(exc, "orig", None) or exc)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL (None for another database or an in-memory one)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    if parsed.database.startswith("file:"):  # a SQLite URI (?mode=ro&uri=true): SQLite opens it as it says
        return None
    return Path(parsed.database)


def open_database(url: str, create: bool = False) -> Engine:
    """The engine for ``url`` with the schema migrated to head (one engine, migrated once, per
    process per URL).

    Args:
        create: Make a SQLite database that does not exist yet (render and submit do); read
            commands and reviews leave a missing one missing.

    Raises:
        NotFound: A SQLite database that does not exist, when not creating it.
        StorageError: One clear line when the database cannot be reached, created or migrated.
    """
    file = sqlite_file(url)
    if file is not None and not file.exists():
        if not create:
            raise NotFound(
                f"no storyreel database at {file}: nothing was submitted or rendered with this home yet "
                "(use --home, STORYREEL_HOME or STORYREEL_DATABASE_URL)"
            )
        if not file.parent.is_dir():
            raise StorageError(f"cannot create the database {file}: its folder {file.parent} does not exist")
    engine = _ENGINES.get(url)
    if engine is not None and file is not None and not file.exists():  # deleted since: its pool holds the old file
        engine.dispose()
        del _ENGINES[url]
        _MIGRATED.discard(url)
        engine = None
    if engine is None:
        engine = _ENGINES.setdefault(url, make_engine(url))  # one engine (and pool) per process per URL
    if url not in _MIGRATED:
        try:
            with engine.connect() as connection:
                connection.exec_driver_sql("SELECT 1")
        except (OperationalError, DBAPIError) as exc:
            raise StorageError(f"cannot connect to database {safe_url(url)}: {first_line(exc)}") from None
        migrate(engine)
        _MIGRATED.add(url)
    return engine


def table_names(engine: Engine) -> set[str]:
    """Tables present in the database (for tests and diagnostics)."""
    return set(inspect(engine).get_table_names())
