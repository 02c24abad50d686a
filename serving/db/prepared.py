"""Look-ups run on every request, on a pooled DBAPI connection with no SQLAlchemy execution.

Authentication and the consent check run once per pre-approval. Through `Connection.execute`
each costs about 35-60 µs of CPU in SQLAlchemy (connection wrapper, execution context, result
object, row processors) around a query SQLite answers in under 10 µs. A `Prepared` statement is
the same Core SELECT, compiled once for the engine's dialect (so it is never written twice),
executed on a raw pooled connection: the DBAPI's statement cache does the rest.

Called from a thread running an event loop (an `async def` route or dependency), a statement
runs on `loop_engine`, a pool of its own that only event loops use: a loop's read returns its
connection before the loop runs anything else, so it never waits for a connection held by a
thread-pool route (whose release would need the blocked loop).

Errors keep the API's contract: a driver error is raised as SQLAlchemy's `DBAPIError` family
(an `OperationalError` answers 503 `database_busy`), with its parameters hidden as the engine
hides them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import ClauseElement


class Prepared:
    """A SELECT compiled for `engine`; `rows(**params)` runs it on a pooled connection."""

    def __init__(
        self, engine: Engine, statement: ClauseElement, loop_engine: Engine | None = None
    ) -> None:
        compiled = statement.compile(dialect=engine.dialect)
        self._engine = engine
        self._loop_engine = loop_engine or engine
        self._sql = str(compiled)
        # the parameter names in order for a positional paramstyle (SQLite's qmark), else None
        self._order: list[str] | None = getattr(compiled, "positiontup", None)
        self._dates_as_text = engine.dialect.name == "sqlite"  # as SQLAlchemy's Date stores them
        self._dbapi_error = engine.dialect.loaded_dbapi.Error

    def rows(self, **params: Any) -> list[tuple[Any, ...]]:
        """Every row of the statement for `params` (names as in the statement's bindparams)."""
        if self._dates_as_text:
            params = {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in params.items()}
        args: Any = params if self._order is None else [params[name] for name in self._order]
        engine = self._loop_engine if in_event_loop() else self._engine
        connection = engine.raw_connection()
        try:
            cursor = connection.cursor()
            try:
                cursor.execute(self._sql, args)
                return list(cursor.fetchall())
            finally:
                cursor.close()
        except self._dbapi_error as error:
            if _disconnected(engine, error):
                connection.invalidate(error)
            raise DBAPIError.instance(
                self._sql, None, error, self._dbapi_error, hide_parameters=True
            ) from error
        finally:
            connection.close()


def in_event_loop() -> bool:
    """Whether the calling thread is running an event loop (it must never wait for a pool)."""
    return asyncio._get_running_loop() is not None


def _disconnected(engine: Engine, error: Exception) -> bool:
    """Whether the driver's error means the connection is gone (then it leaves the pool)."""
    return bool(engine.dialect.is_disconnect(error, None, None))  # type: ignore[arg-type]
