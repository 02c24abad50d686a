"""Platform tables as Parquet files (`precredit platform export --format parquet`), for engines.

Both feature engines can read such a directory: DuckDB through views over the files, Spark
through temp views (`features.spark`). Either way a missing table is refused up front.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from catalog.errors import InvalidInput
from catalog.store import Connection, quiet
from features.definitions import REGISTRY
from features.registry import Registry


def parquet_tables(directory: Path, registry: Registry = REGISTRY) -> dict[str, Path]:
    """`<directory>/<table>.parquet` of every table the registry reads; refuse a missing one."""
    if not directory.is_dir():
        raise InvalidInput(
            f"no directory {directory.name}/ of platform tables: write one with "
            "`precredit platform export --to DIR --format parquet`"
        )
    paths = {table: directory / f"{table}.parquet" for table in registry.sources}
    missing = sorted(table for table, path in paths.items() if not path.is_file())
    if missing:
        raise InvalidInput(
            f"{directory.name}/ has no {missing[0]}.parquet ({len(missing)} table(s) missing): "
            "write the platform tables with `precredit platform export --to DIR --format parquet`"
        )
    return paths


def _literal(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


@contextmanager
def duckdb_views(directory: Path, registry: Registry = REGISTRY) -> Iterator[Connection]:
    """An in-memory DuckDB whose tables are views over the directory's Parquet files."""
    paths = parquet_tables(directory, registry)
    con = duckdb.connect()
    try:
        quiet(con)
        for table, path in paths.items():
            con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet({_literal(path)})")
        yield con
    finally:
        con.close()
