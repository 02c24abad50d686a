"""Staging of one platform file inside DuckDB: raw rows -> typed rows with their first failure.

All work is set-based SQL over temp tables (one statement per step, no Python loop over rows):

    _raw      the file as read (CSV as text, Parquet with its own types); `rowid + 1` is the
              1-based data line (CSV, header excluded) or row index (Parquet)
    _codes    (raw, code, reason) for each distinct raw credit code (`validate.code_reasons`)
    _staged   typed columns, `_src_line`, `_code_reason` and `_fail`, the first failing reason
              (`encoding`, `missing`, `type`, value checks, then `duplicate_key`), and
              `_present` (valid, and its key is already in the store)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from catalog import schema
from catalog.validate import CODE_REASON, Check, first_failure, ident, literal, value_checks

Connection = duckdb.DuckDBPyConnection

REPLACEMENT_CHAR = "\ufffd"
_TEXT_TYPES = {"VARCHAR"}
_INTEGER_TYPES = {"INTEGER", "BIGINT"}


@dataclass(frozen=True)
class Source:
    """The columns a file provides (name -> DuckDB type) and whether its bytes were repaired."""

    types: dict[str, str]
    repaired_utf8: bool = False


def load_raw(con: Connection, path: Path, fmt: str) -> dict[str, str]:
    """Read a file into the temp table `_raw`; return its columns and their types."""
    if fmt == "csv":
        reader = (
            f"read_csv({literal(str(path))}, all_varchar = true, header = true, "
            "delim = ',', quote = '\"', escape = '\"')"
        )
    else:
        reader = f"read_parquet({literal(str(path))})"
    con.execute(f"CREATE OR REPLACE TEMP TABLE _raw AS SELECT * FROM {reader}")
    types = {str(row[0]): str(row[1]) for row in con.execute("DESCRIBE _raw").fetchall()}
    for name in [n for n in types if n.lower() == "rowid"]:  # it would hide the line numbers
        con.execute(f"ALTER TABLE _raw RENAME COLUMN {ident(name)} TO {ident(name + '_')}")
        types[name + "_"] = types.pop(name)
    return types


def stage(con: Connection, table: schema.Table, source: Source) -> None:
    """Build `_staged` from `_raw` (and `_codes` when the table has credit codes)."""
    items = [_column(table, i, column, source) for i, column in enumerate(table.columns)]
    items += _encoding_flags(table, source)
    checks = _raw_checks(table, source) + value_checks(table, with_codes=True)
    code_join = ""
    code_reason = f"CAST(NULL AS VARCHAR) AS {CODE_REASON}"
    if table.has_uscc:
        code_join = 'LEFT JOIN _codes c ON CAST(r."uscc" AS VARCHAR) = c.raw'
        code_reason = f"c.reason AS {CODE_REASON}"
    typed = (
        f"SELECT r.rowid + 1 AS _src_line, {', '.join(items)}, {code_reason} "
        f"FROM _raw r {code_join}"
    )
    keys = ", ".join(map(ident, table.key))
    matches = " AND ".join(f"t.{ident(k)} = v.{ident(k)}" for k in table.key)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _staged AS
        WITH typed AS ({typed}),
        checked AS (SELECT *, {first_failure(checks)} AS _reason FROM typed),
        ranked AS (
            SELECT * EXCLUDE (_reason), CASE
                WHEN _reason IS NOT NULL THEN _reason
                WHEN row_number() OVER (
                    PARTITION BY {keys}, _reason IS NULL ORDER BY _src_line) > 1
                THEN 'duplicate_key' END AS _fail
            FROM checked)
        SELECT v.*, v._fail IS NULL AND EXISTS (
            SELECT 1 FROM {table.name} t WHERE {matches}) AS _present
        FROM ranked v"""
    )


def _column(table: schema.Table, index: int, column: schema.Column, source: Source) -> str:
    """The typed select item of one column and its `_bad_<i>` flag (a value of the wrong type)."""
    name, bad = ident(column.name), f"_bad_{index}"
    source_type = source.types.get(column.name)
    if source_type is None:
        return f"CAST(NULL AS {column.dtype}) AS {name}, false AS {bad}"
    if table.has_uscc and column.name == "uscc":
        return f"NULLIF(c.code, '') AS {name}, false AS {bad}"
    raw = f"r.{name}"
    if column.dtype in _TEXT_TYPES:
        text = raw if source_type in _TEXT_TYPES else f"CAST({raw} AS VARCHAR)"
        return f"CASE WHEN trim({text}) = '' THEN NULL ELSE {text} END AS {name}, false AS {bad}"
    value = f"NULLIF(trim({raw}), '')" if source_type in _TEXT_TYPES else raw
    typed = f"TRY_CAST({value} AS {column.dtype})"
    failed = f"{typed} IS NULL"
    if column.dtype in _INTEGER_TYPES:
        failed += f" OR {typed} <> TRY_CAST({value} AS DOUBLE)"
    return f"{typed} AS {name}, ({value} IS NOT NULL AND ({failed})) AS {bad}"


def _encoding_flags(table: schema.Table, source: Source) -> list[str]:
    """`_enc_<i>` items: the raw text holds a replaced (invalid UTF-8) byte sequence."""
    if not source.repaired_utf8:
        return []
    return [
        f"strpos(r.{ident(c.name)}, {literal(REPLACEMENT_CHAR)}) > 0 AS _enc_{i}"
        for i, c in enumerate(table.columns)
        if source.types.get(c.name) in _TEXT_TYPES
    ]


def _raw_checks(table: schema.Table, source: Source) -> list[Check]:
    """Checks only raw input needs: replaced bytes, missing values, values of the wrong type."""
    checks = [
        Check(literal(f"encoding:{c.name}"), f"_enc_{i}")
        for i, c in enumerate(table.columns)
        if source.repaired_utf8 and source.types.get(c.name) in _TEXT_TYPES
    ]
    checks += [
        Check(literal(f"missing:{c.name}"), f"{ident(c.name)} IS NULL AND NOT _bad_{i}")
        for i, c in enumerate(table.columns)
        if not c.nullable
    ]
    checks += [
        Check(literal(f"type:{c.name}"), f"_bad_{i}")
        for i, c in enumerate(table.columns)
        if c.dtype not in _TEXT_TYPES
    ]
    return checks
