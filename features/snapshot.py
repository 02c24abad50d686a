"""The serving snapshot: latest features of every entity, refreshable for a few after a correction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import duckdb
import pandas as pd

from catalog import uscc
from catalog.errors import InvalidInput
from catalog.store import Connection, scalar
from features.compute import EXTRACT, SAFE_CODE, PointReader, compute, sql
from features.definitions import REGISTRY
from features.registry import Registry

TABLE = "feature_snapshot"


def _codes(con: Connection, codes: Sequence[str] | None) -> list[str]:
    if codes is not None:
        return sorted({uscc.normalize(c) for c in codes})
    return [r[0] for r in con.execute("SELECT DISTINCT uscc FROM entities ORDER BY 1").fetchall()]


def as_of(con: Connection) -> dt.date:
    """The day the store's feature snapshot was computed as of (its latest, if several)."""
    try:
        day = scalar(con, f"SELECT max(CAST(as_of AS DATE)) FROM {TABLE}")
    except duckdb.CatalogException:
        day = None
    if not isinstance(day, dt.date):
        raise InvalidInput(
            "the store has no feature snapshot: run `precredit features snapshot --as-of D` "
            "or give --as-of"
        )
    return day


def _frame(
    con: Connection,
    codes: list[str],
    as_of: dt.date,
    registry: Registry,
    reader: PointReader | None = None,
) -> pd.DataFrame:
    pairs = pd.DataFrame({"uscc": codes, "as_of": as_of})
    features = reader.features(pairs) if reader else compute(con, pairs, registry)
    features.insert(2, "registry_fingerprint", registry.fingerprint())
    features.insert(3, "computed_at", pd.Timestamp.now(tz="UTC").tz_localize(None))
    return features


def build(con: Connection, as_of: dt.date, registry: Registry = REGISTRY) -> int:
    """Replace the snapshot with every registered entity's features as of `as_of`."""
    frame = _frame(con, _codes(con, None), as_of, registry)
    con.register("_snapshot", frame)
    try:
        con.execute(f"CREATE OR REPLACE TABLE {TABLE} AS SELECT * FROM _snapshot")
        con.execute(f"CREATE INDEX IF NOT EXISTS idx_{TABLE}_uscc ON {TABLE} (uscc)")
        con.execute("CHECKPOINT")  # later point refreshes stay cheap
    finally:
        con.unregister("_snapshot")
    return len(frame)


class Refresher:
    """Point refreshes done inside DuckDB: extracts, then one prepared INSERT; no pandas.

    For long-lived processes (API workers, correction listeners); requires a built snapshot.
    """

    def __init__(self, con: Connection, registry: Registry = REGISTRY) -> None:
        self.reader = PointReader(con, registry)
        names = ", ".join(registry.names)
        self.reader.cursor.execute(
            f"PREPARE refresh_rows AS INSERT INTO {TABLE} SELECT uscc, as_of, "
            f"'{registry.fingerprint()}', CAST(now() AS TIMESTAMP), {names} "
            f"FROM ({sql(registry, EXTRACT)}) q"
        )
        self._con = con

    def refresh(self, codes: Sequence[str], as_of: dt.date | None = None) -> int:
        """Recompute the snapshot rows of `codes`; returns how many were written."""
        chosen = [c for c in _codes(self._con, codes) if SAFE_CODE.match(c)]
        day = as_of or snapshot_date(self._con)
        self.reader.load(pd.DataFrame({"uscc": chosen, "as_of": day}))
        listed = ", ".join(f"'{c}'" for c in chosen) or "NULL"
        self.reader.cursor.execute(
            f"BEGIN TRANSACTION; PRAGMA enable_optimizer; DELETE FROM {TABLE} WHERE uscc IN "
            f"({listed}); PRAGMA disable_optimizer; EXECUTE refresh_rows; COMMIT;"
        )
        return len(chosen)

    def close(self) -> None:
        """Release the reader."""
        self.reader.close()


def refresh(
    con: Connection,
    codes: Sequence[str],
    as_of: dt.date | None = None,
    registry: Registry = REGISTRY,
    reader: PointReader | None = None,
) -> int:
    """Recompute the snapshot rows of `codes` (e.g. after a correction or a repair).

    A long-lived caller passes its `PointReader` to skip preparing the query each time.
    """
    chosen = [c for c in _codes(con, codes) if SAFE_CODE.match(c)]  # no other code is stored
    day = as_of or snapshot_date(con)
    frame = _frame(con, chosen, day, registry, reader)
    con.register("_refresh", frame)
    try:
        con.execute("BEGIN TRANSACTION")
        listed = ", ".join(f"'{c}'" for c in frame["uscc"] if SAFE_CODE.match(c)) or "NULL"
        con.execute(f"DELETE FROM {TABLE} WHERE uscc IN ({listed})")  # literals: index lookups
        con.execute(f"INSERT INTO {TABLE} SELECT * FROM _refresh")
        con.execute("COMMIT")
    finally:
        con.unregister("_refresh")
    return len(frame)


def snapshot_date(con: Connection) -> dt.date:
    """The as_of date of the current snapshot."""
    value = scalar(con, f"SELECT max(as_of) FROM {TABLE}")
    return pd.Timestamp(value).date()


def read(con: Connection, codes: Sequence[str]) -> pd.DataFrame:
    """Snapshot rows of `codes` (canonical codes; unknown codes are absent)."""
    con.register("_wanted", pd.DataFrame({"uscc": list(codes)}))
    try:
        return con.execute(f"SELECT s.* FROM {TABLE} s JOIN _wanted USING (uscc)").df()
    finally:
        con.unregister("_wanted")
