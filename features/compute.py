"""Point-in-time features for (entity, as_of) pairs: one compiled query, two ways to feed it.

Many pairs (a city, a training set): the query runs over the whole store. A few entities (a
live request, a snapshot refresh): `PointReader` copies their rows into small temp tables
through the `uscc` indexes and runs the same query, prepared once, over those extracts.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache

import numpy as np
import pandas as pd

from catalog import uscc
from catalog.errors import InvalidInput
from catalog.store import Connection
from features.definitions import REGISTRY
from features.query import compile_registry
from features.registry import Registry

NARROW_MAX_CODES = 64
EXTRACT = "_pit_"
SAFE_CODE = re.compile(r"^[0-9A-Z]{1,18}$")


@lru_cache(maxsize=8)
def sql(registry: Registry, prefix: str = "") -> str:
    """The compiled feature query (cached)."""
    return compile_registry(registry, prefix)


def numbered_pairs(pairs: pd.DataFrame) -> pd.DataFrame:
    """The query's `pairs` relation: (pair_id, normalised uscc, as_of date), validated."""
    missing = {"uscc", "as_of"} - set(pairs.columns)
    if missing:
        raise InvalidInput(
            f"pairs need columns uscc and as_of (missing: {', '.join(sorted(missing))})"
        )
    as_of = pd.to_datetime(pairs["as_of"], errors="coerce")
    if as_of.isna().any():
        raise InvalidInput("every as_of must be a date")
    return pd.DataFrame(
        {
            "pair_id": np.arange(len(pairs), dtype=np.int64),
            "uscc": [uscc.normalize(c) for c in pairs["uscc"].astype(str)],
            "as_of": as_of.dt.date,
        }
    )


def finish(out: pd.DataFrame, registry: Registry) -> pd.DataFrame:
    """The query's result as callers get it from every engine: no pair_id, as_of a timestamp."""
    out = out.drop(columns="pair_id")  # features arrive as DOUBLE from the query
    out["as_of"] = pd.to_datetime(out["as_of"]).astype("datetime64[us]")  # whatever the engine
    return out


def _literal(text: str) -> str:
    """A SQL string literal (standard strings: quotes doubled, no backslash escapes)."""
    return "'" + text.replace("'", "''") + "'"


class PointReader:
    """The feature query prepared on a private cursor, for a few entities at a time.

    Planning dominates on tiny inputs, so the statement is prepared once with the
    (semantics-preserving) optimizer off; extracts use the optimizer for index lookups.
    Not thread-safe: use one reader per thread.
    """

    def __init__(self, con: Connection, registry: Registry = REGISTRY) -> None:
        self.registry = registry
        self._cur = con.cursor()
        for table in registry.sources:
            self._cur.execute(
                f"CREATE TEMP TABLE {EXTRACT}{table} AS SELECT * FROM {table} LIMIT 0"
            )
        self._cur.execute("CREATE TEMP TABLE pairs (pair_id BIGINT, uscc VARCHAR, as_of DATE)")
        self._cur.execute("PRAGMA disable_optimizer")
        self._cur.execute(f"PREPARE point_in_time AS {sql(registry, EXTRACT)}")

    def _stage(self, frame: pd.DataFrame) -> None:
        """One round trip: extract the entities' rows (indexes on), stage the pairs."""
        safe = frame["uscc"].map(lambda c: bool(SAFE_CODE.match(c)))
        listed = ", ".join(f"'{c}'" for c in sorted(set(frame["uscc"][safe]))) or "NULL"
        statements = [
            f"DELETE FROM {EXTRACT}{t}; INSERT INTO {EXTRACT}{t} SELECT * FROM {t} "
            f"WHERE uscc IN ({listed});"
            for t in self.registry.sources
        ]
        rows = ", ".join(
            f"({i}, {_literal(c)}, DATE '{d}')"
            for i, c, d in zip(frame["pair_id"], frame["uscc"], frame["as_of"], strict=True)
        )
        self._cur.execute(
            "PRAGMA enable_optimizer; "
            + " ".join(statements)
            + f" DELETE FROM pairs; INSERT INTO pairs VALUES {rows}; PRAGMA disable_optimizer;"
        )

    @property
    def cursor(self) -> Connection:
        """The private cursor holding the extracts (`pairs`, `_pit_<table>`)."""
        return self._cur

    def load(self, pairs: pd.DataFrame) -> None:
        """Extract the pairs' entities and stage the pairs; then `EXECUTE point_in_time`."""
        self._stage(numbered_pairs(pairs))

    def features(self, pairs: pd.DataFrame) -> pd.DataFrame:
        """Features of each pair (columns uscc, as_of), like `compute`."""
        self.load(pairs)
        return finish(self._cur.execute("EXECUTE point_in_time").df(), self.registry)

    def close(self) -> None:
        """Release the cursor and its temp tables."""
        self._cur.close()


def compute(
    con: Connection,
    pairs: pd.DataFrame,
    registry: Registry = REGISTRY,
    *,
    narrow: bool | None = None,
) -> pd.DataFrame:
    """Features for each row of `pairs` (columns uscc, as_of), in the same order.

    `narrow` forces the few-entities path (True) or the whole-store path (False); by
    default up to NARROW_MAX_CODES distinct entities go the narrow way. Both give the
    same values bit for bit.

    Only records with event and ingest dates on or before as_of, in their latest version
    at as_of and visible under DOMAIN.md §4 are used. Features are float64; categorical
    features hold the index of their category.
    """
    frame = numbered_pairs(pairs)
    if narrow if narrow is not None else frame["uscc"].nunique() <= NARROW_MAX_CODES:
        reader = PointReader(con, registry)
        try:
            return reader.features(pairs)
        finally:
            reader.close()
    con.register("pairs", frame)
    try:
        return finish(con.execute(sql(registry)).df(), registry)
    finally:
        con.unregister("pairs")


def as_of_one(
    con: Connection, code: str, as_of: dt.date, registry: Registry = REGISTRY
) -> pd.Series:
    """Features of a single entity on one day (the same query as the batch)."""
    row = compute(con, pd.DataFrame({"uscc": [code], "as_of": [as_of]}), registry)
    return row.iloc[0]
