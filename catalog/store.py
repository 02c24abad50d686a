"""The platform store: a DuckDB file holding the raw tables of `catalog.schema`."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

from catalog import schema
from catalog.errors import StoreError

Connection = duckdb.DuckDBPyConnection


def create(path: Path) -> None:
    """Create an empty store at `path` with every table of the schema."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(path)) as con:
        ensure_schema(con)


def quiet(con: Connection) -> None:
    """No progress bars on stderr from library calls."""
    # In Jupyter without ipywidgets DuckDB refuses the SET (duckdb#7590); there is no bar there.
    with suppress(duckdb.InvalidInputException):
        con.execute("SET enable_progress_bar = false")


def ensure_schema(con: Connection) -> None:
    """Create missing tables and record the schema version."""
    for table in schema.ALL_TABLES:
        con.execute(schema.ddl(table))
    con.execute(
        "INSERT INTO store_meta SELECT 'schema_version', ? "
        "WHERE NOT EXISTS (SELECT 1 FROM store_meta WHERE key = 'schema_version')",
        [schema.SCHEMA_VERSION],
    )


@contextmanager
def connect(path: Path, *, read_only: bool = False) -> Iterator[Connection]:
    """Open an existing store; a missing or foreign file is a `StoreError`."""
    if not path.exists():
        raise StoreError(
            f"no platform store at {path}; run `precredit platform generate` or "
            "`precredit platform import` first"
        )
    try:
        con = duckdb.connect(str(path), read_only=read_only)
        quiet(con)
    except duckdb.Error as error:
        raise StoreError(
            f"cannot open platform store {path.name} now (is another process "
            f"writing it?): {type(error).__name__}"
        ) from error
    try:
        if not read_only:
            add_new_tables(con)
        check_schema(con)
        yield con
    finally:
        con.close()


def add_new_tables(con: Connection) -> list[str]:
    """Create the tables this release added (`schema.ADDED_TABLES`) that an older store lacks,
    empty, as the platform knew nothing of them; their names.

    Additive only, and only for those tables: any other missing table is damage, left for
    `check_schema` to refuse. A writable open of the store does this; a read-only one cannot.
    """
    present = {
        str(r[0])
        for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
        ).fetchall()
    }
    added = [t for t in schema.ADDED_TABLES if t.name not in present]
    for table in added:
        con.execute(schema.ddl(table))
    return [t.name for t in added]


def ensure_indexes(con: Connection) -> None:
    """ART indexes on `uscc` so one entity's rows are point lookups (serving, refresh)."""
    for table in schema.ALL_TABLES:
        if table.has_uscc:
            con.execute(f"CREATE INDEX IF NOT EXISTS idx_{table.name}_uscc ON {table.name} (uscc)")


def check_schema(con: Connection) -> None:
    """Raise `StoreError` unless every table of the schema exists with its columns."""
    rows = con.execute(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'main'"
    ).fetchall()
    present: dict[str, set[str]] = {}
    for table_name, column_name in rows:
        present.setdefault(table_name, set()).add(column_name)
    for table in schema.ALL_TABLES:
        missing = set(table.column_names) - present.get(table.name, set())
        if missing:
            if table.name not in present and table in schema.ADDED_TABLES:
                raise StoreError(
                    f"platform store lacks the table {table.name} of this release: open it "
                    "once writable (e.g. `precredit features snapshot`) to add it, empty"
                )
            raise StoreError(
                f"platform store is not in schema {schema.SCHEMA_VERSION}: table "
                f"{table.name} lacks {', '.join(sorted(missing))}"
            )


def append(con: Connection, table: schema.Table, frame: pd.DataFrame | pa.Table) -> int:
    """Append rows (columns in any order, named as in the schema) to `table`."""
    con.register("_incoming", frame)
    try:
        cols = ", ".join(table.column_names)
        con.execute(f"INSERT INTO {table.name} ({cols}) SELECT {cols} FROM _incoming")
    finally:
        con.unregister("_incoming")
    return len(frame)


def row_counts(con: Connection) -> dict[str, int]:
    """Number of rows in every table of the schema."""
    return {t.name: int(scalar(con, f"SELECT count(*) FROM {t.name}")) for t in schema.ALL_TABLES}


def table_digest(con: Connection, table: schema.Table) -> str:
    """An order-independent content hash of one table (row count + sum of row hashes)."""
    cols = ", ".join(table.column_names)
    [(count, total)] = con.execute(
        f"SELECT count(*), coalesce(sum(hash({cols})::HUGEINT), 0) FROM {table.name}"
    ).fetchall()
    return hashlib.sha256(f"{table.name}:{count}:{total}".encode()).hexdigest()


def content_hash(con: Connection, tables: Mapping[str, schema.Table] | None = None) -> str:
    """One hash over the contents of every data table (system tables excluded)."""
    chosen = tables or {t.name: t for t in schema.ALL_TABLES if t.kind != "system"}
    digests = "".join(table_digest(con, chosen[name]) for name in sorted(chosen))
    return hashlib.sha256(digests.encode()).hexdigest()


def set_meta(con: Connection, key: str, value: str) -> None:
    """Record a key/value fact about the store."""
    con.execute("DELETE FROM store_meta WHERE key = ?", [key])
    con.execute("INSERT INTO store_meta VALUES (?, ?)", [key, value])


def get_meta(con: Connection, key: str) -> str | None:
    """A fact recorded with `set_meta`, or None."""
    rows = con.execute("SELECT value FROM store_meta WHERE key = ?", [key]).fetchall()
    return str(rows[0][0]) if rows else None


def scalar(con: Connection, sql: str, params: list[object] | None = None) -> Any:
    """The single value a query returns (results fully fetched, as DuckDB 2 requires)."""
    rows = con.execute(sql, params or []).fetchall()
    return rows[0][0] if rows else None
