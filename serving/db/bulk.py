"""Bulk inserts in the caller's transaction: PostgreSQL's COPY, elsewhere one executemany.

COPY is about four times faster than psycopg's pipelined executemany for wide rows (a batch
offers run inserts hundreds of thousands). Values pass through the columns' own bind
processors first, so `UTCDateTime` still refuses naive times and stores UTC on both paths.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Insert, Table, insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    import psycopg


def insert_rows(session: Session, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert `rows` (dicts with the same keys) into `table`."""
    if not rows:
        return
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        session.execute(insert(table), list(rows))
        return
    columns = [table.c[name] for name in rows[0]]  # unknown names raise KeyError here
    processors = [c.type.bind_processor(connection.dialect) for c in columns]
    quote = connection.dialect.identifier_preparer
    statement = (
        f"COPY {quote.format_table(table)} "
        f"({', '.join(quote.quote(c.name) for c in columns)}) FROM STDIN"
    )
    dbapi = cast("psycopg.Connection[Any]", connection.connection.dbapi_connection)
    with dbapi.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(
                [
                    value if process is None else process(value)
                    for value, process in zip(row.values(), processors, strict=True)
                ]
            )


def insert_ignoring_duplicates(
    session: Session, table: Table, rows: Sequence[Mapping[str, Any]]
) -> Insert:
    """One multi-row INSERT of `rows` that skips rows whose key exists (`ON CONFLICT DO NOTHING`).

    Add `.returning(...)` to learn which rows were inserted (`rowcount` is not reliable here).
    """
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table).values(list(rows)).on_conflict_do_nothing()
    return sqlite.insert(table).values(list(rows)).on_conflict_do_nothing()
