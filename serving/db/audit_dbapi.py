"""`record_decisions` and its commit on a pooled DB-API connection: the audit writer process's path.

The writer process commits every decision of every worker. Through a `Session` one commit of
4 rows cost ~1.2 ms of CPU in process, about half of it SQLAlchemy's session, connection and
execution-context machinery around three statements (head read, executemany INSERT, COMMIT)
that SQLite runs in microseconds. Here the same statements, compiled once by SQLAlchemy for
the engine's dialect (never written twice), run on the engine's own pooled connection (its
connect events: WAL, triggers, busy timeout), and every value goes through its column's own
bind processor, as SQLAlchemy would send it: the rows stored are the `Session` path's, byte
for byte (`tests/serving/test_audit_dbapi.py`). The chain is extended exactly as
`audit_chain.chain` does, in the same transaction and after the tenants' turns.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Engine, insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import ClauseElement

from serving.db import audit_chain
from serving.db.audit import DECISIONS, DecisionFields, completed


class _Statement:
    """A statement compiled for a dialect, with its parameters in the driver's form."""

    def __init__(self, engine: Engine, statement: ClauseElement) -> None:
        compiled = statement.compile(dialect=engine.dialect)
        self.sql = str(compiled)
        self._order: list[str] | None = getattr(compiled, "positiontup", None)  # qmark: SQLite

    def args(self, params: dict[str, Any]) -> Any:
        return params if self._order is None else [params[name] for name in self._order]


class AuditRecorder:
    """Stores and commits decision rows, chained, in one transaction per call."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._postgres = engine.dialect.name == "postgresql"
        self._insert = _Statement(engine, insert(DECISIONS))
        self._head = _Statement(engine, audit_chain.HEAD)
        self._turn = _Statement(engine, audit_chain.TURN)
        dialect = engine.dialect  # each type as the dialect stores it (SQLite: dates as text)
        processors = {
            c.name: c.type.dialect_impl(dialect).bind_processor(dialect) for c in DECISIONS.columns
        }
        self._processors: dict[str, Callable[[Any], Any]] = {
            name: p for name, p in processors.items() if p is not None
        }
        self._dbapi_error = engine.dialect.loaded_dbapi.Error
        self.inserted_at = 0.0  # perf_counter when the last INSERT ended (before its COMMIT)

    def record(self, rows: Sequence[DecisionFields]) -> list[str]:
        """Store `rows` chained to their tenants' audit and commit; their ids, in order."""
        if not rows:
            return []
        values = completed(rows)
        connection = self._engine.raw_connection()
        try:
            cursor = connection.cursor()
            try:
                self._chain(cursor, values)
                cursor.executemany(self._insert.sql, [self._stored(v) for v in values])
            finally:
                cursor.close()
            self.inserted_at = time.perf_counter()
            connection.commit()
        except self._dbapi_error as error:
            connection.rollback()
            if self._engine.dialect.is_disconnect(error, None, None):  # type: ignore[arg-type]
                connection.invalidate(error)
            raise DBAPIError.instance(
                self._insert.sql, None, error, self._dbapi_error, hide_parameters=True
            ) from error
        except BaseException:
            connection.rollback()
            raise
        finally:
            connection.close()
        return [str(v["id"]) for v in values]

    def _chain(self, cursor: Any, values: list[dict[str, Any]]) -> None:
        """Begin (SQLite: with the write lock), take the tenants' turns, extend their chains."""
        tenants = sorted({str(v["tenant_id"]) for v in values})
        if self._postgres:  # a transaction begins with the first statement
            for tenant in tenants:
                cursor.execute(self._turn.sql, self._turn.args(audit_chain.turn_params(tenant)))
        else:  # the engine's connections leave BEGIN to the caller (serving.db.engine)
            cursor.execute("BEGIN IMMEDIATE")
        heads = {}
        for tenant in tenants:
            cursor.execute(self._head.sql, self._head.args({"tenant": tenant}))
            heads[tenant] = audit_chain.head_of(cursor.fetchone())
        audit_chain.extend(heads, values)

    def _stored(self, row: dict[str, Any]) -> Any:
        """The row's parameters as SQLAlchemy sends them (each column's bind processor)."""
        params = {}
        for column in DECISIONS.columns:
            value = row.get(column.name)
            processor = self._processors.get(column.name)
            params[column.name] = processor(value) if processor is not None else value
        return self._insert.args(params)
