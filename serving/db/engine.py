"""Engines and sessions for the service database: SQLite (WAL) by default, PostgreSQL by URL.

On SQLite every transaction takes the write lock when it begins (`BEGIN IMMEDIATE`), so
transactions queue rather than fail: keep them short, and never hold two open sessions in
one thread (the second waits `busy_timeout` for the first, then fails "database is locked").
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from catalog.errors import InvalidInput

_SCHEMA = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_POSTGRES_ALIASES = {"postgres", "postgresql", "postgresql+psycopg"}
SQLITE_BUSY_TIMEOUT_MS = 5000
POOL_TIMEOUT_SECONDS = 10.0  # waiting longer for a connection: 503 database_busy instead
DEFAULT_POOL_SIZE = 20


def sqlite_url(path: Path) -> str:
    """The SQLAlchemy URL of the SQLite file at `path`."""
    return f"sqlite:///{path.resolve()}"


def make_engine(
    url: str, *, schema: str | None = None, pool_size: int = DEFAULT_POOL_SIZE
) -> Engine:
    """An engine for `url`; `schema` (PostgreSQL only) becomes the connection's search_path.

    The pool is bounded (`pool_size`, no overflow): a request that waits `POOL_TIMEOUT_SECONDS`
    for a connection fails with `sqlalchemy.exc.TimeoutError`, answered 503 by the API. Failed
    statements never carry their parameters into exceptions or logs (`hide_parameters`).
    """
    parsed = _parse(url)
    pool = _pool(pool_size)
    if parsed.get_backend_name() == "sqlite":
        if schema is not None:
            raise InvalidInput("a schema can only be chosen on PostgreSQL")
        return _sqlite_engine(parsed, pool)
    return _postgres_engine(parsed, schema, pool)


def make_read_engine(
    url: str, *, schema: str | None = None, pool_size: int = DEFAULT_POOL_SIZE
) -> Engine:
    """A read-only engine with its own pool of autocommit connections, for the request path.

    Authentication, consent and policy look-ups run on every request. An autocommit option on
    the write engine (`engine.execution_options(isolation_level="AUTOCOMMIT")`) switches each
    pooled connection's isolation level at checkout and back at checkin, and rolls it back: about
    three times the cost of the read itself. Here the level is set once per connection, nothing
    is reset on return (an autocommit connection holds no transaction), and on SQLite the
    connection is `query_only`, so a write through it fails instead of taking the write lock.
    """
    parsed = _parse(url)
    pool = _pool(pool_size) | {"isolation_level": "AUTOCOMMIT", "pool_reset_on_return": None}
    if parsed.get_backend_name() == "sqlite":
        if schema is not None:
            raise InvalidInput("a schema can only be chosen on PostgreSQL")
        engine = create_engine(parsed, **pool)
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "connect", _sqlite_query_only)
        return engine
    return _postgres_engine(parsed, schema, pool, read_only=True)


def _pool(pool_size: int) -> dict[str, Any]:
    return {
        "pool_size": max(pool_size, 1),
        "max_overflow": 0,
        "pool_timeout": POOL_TIMEOUT_SECONDS,
        "hide_parameters": True,
    }


def pool_size_for(connections: int, workers: int) -> int:
    """Each worker's share of the database connections the service may hold (at least 2)."""
    return max(connections // max(workers, 1), 2)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions on `engine`; objects stay readable after commit (the API serialises them then)."""
    return sessionmaker(engine, expire_on_commit=False)


def _parse(url: str) -> URL:
    """The URL with a PostgreSQL driver normalised to psycopg 3; other backends refused."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise InvalidInput("the service database URL cannot be parsed") from exc
    if parsed.drivername in _POSTGRES_ALIASES:
        return parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername in {"sqlite", "sqlite+pysqlite"}:
        return parsed
    shown = parsed.render_as_string(hide_password=True)
    raise InvalidInput(f"unsupported service database URL {shown}: use sqlite:// or postgresql://")


def _sqlite_engine(url: URL, pool: dict[str, Any]) -> Engine:
    engine = create_engine(url, **pool)
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    """WAL, enforced foreign keys, recursive triggers and a busy wait on every new connection."""
    # Let SQLAlchemy, not the sqlite3 driver, emit BEGIN (see _sqlite_on_begin): the driver's
    # legacy mode skips BEGIN before SELECT and SAVEPOINT, which breaks nested transactions.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        # REPLACE's implicit delete fires DELETE triggers only with this on: the audit's
        # append-only trigger then refuses `INSERT OR REPLACE` (migration 0006 also refuses it).
        cursor.execute("PRAGMA recursive_triggers=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    finally:
        cursor.close()


def _sqlite_query_only(dbapi_connection: Any, _record: Any) -> None:
    """Refuse writes on a read connection (SQLite's `query_only`)."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA query_only=ON")
    finally:
        cursor.close()


def _sqlite_on_begin(connection: Connection) -> None:
    """Start every transaction with the write lock (BEGIN IMMEDIATE)."""
    # A deferred transaction that reads and then writes fails at once with SQLITE_BUSY when
    # another writer committed in between (busy_timeout does not apply to that upgrade).
    # Taking the lock up front makes concurrent writers queue on busy_timeout instead (Django's
    # "IMMEDIATE" mode). The cost, read-only sessions queue too, suits the one-machine default;
    # PostgreSQL is the path for many workers.
    if connection.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _postgres_engine(
    url: URL, schema: str | None, pool: dict[str, Any], *, read_only: bool = False
) -> Engine:
    connect_args: dict[str, Any] = {}
    if "connect_timeout" not in url.query:
        connect_args["connect_timeout"] = 10
    options = []
    if schema is not None:
        if not _SCHEMA.fullmatch(schema):
            raise InvalidInput("a schema name is lower_snake, at most 63 characters")
        options.append(f"-csearch_path={schema}")
    if read_only:  # every statement's transaction is read-only: a write fails, never lands
        options.append("-cdefault_transaction_read_only=on")
    if options:
        connect_args["options"] = " ".join(options)
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args, **pool)
