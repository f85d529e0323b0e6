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

from shots.errors import StorageError

MIGRATIONS = Path(__file__).parent / "migrations"
_MIGRATED: set[str] = set()


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
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(parsed, connect_args={"timeout": 30, "isolation_level": None})
            event.listen(engine, "connect", _sqlite_pragmas)
            event.listen(engine, "begin", _sqlite_begin_immediate)
        else:
            engine = create_engine(parsed, pool_pre_ping=True)
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
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    except (OperationalError, DBAPIError) as exc:
        raise StorageError(f"cannot use database {engine.url.render_as_string(hide_password=True)}: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__


def open_database(url: str) -> Engine:
    """Engine for ``url`` with the schema migrated to head (once per process per URL).

    Raises:
        StorageError: One clear line when the database cannot be reached or migrated.
    """
    engine = make_engine(url)
    if url not in _MIGRATED:
        try:
            with engine.connect() as connection:
                connection.exec_driver_sql("SELECT 1")
        except (OperationalError, DBAPIError) as exc:
            raise StorageError(f"cannot connect to database {safe_url(url)}: {_first_line(exc)}") from None
        migrate(engine)
        _MIGRATED.add(url)
    return engine


def table_names(engine: Engine) -> set[str]:
    """Tables present in the database (for tests and diagnostics)."""
    return set(inspect(engine).get_table_names())
