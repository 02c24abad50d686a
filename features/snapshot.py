"""The serving snapshot: latest features of every entity, refreshable for a few after a correction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pandas as pd

from features import uscc
from features.compute import compute
from features.definitions import REGISTRY
from features.registry import Registry
from features.store import Connection, scalar

TABLE = "feature_snapshot"


def _codes(con: Connection, codes: Sequence[str] | None) -> list[str]:
    if codes is not None:
        return sorted({uscc.normalize(c) for c in codes})
    return [r[0] for r in con.execute("SELECT DISTINCT uscc FROM entities ORDER BY 1").fetchall()]


def _frame(con: Connection, codes: list[str], as_of: dt.date, registry: Registry) -> pd.DataFrame:
    features = compute(con, pd.DataFrame({"uscc": codes, "as_of": as_of}), registry)
    features.insert(2, "registry_fingerprint", registry.fingerprint())
    features.insert(3, "computed_at", pd.Timestamp.now(tz="UTC").tz_localize(None))
    return features


def build(con: Connection, as_of: dt.date, registry: Registry = REGISTRY) -> int:
    """Replace the snapshot with every registered entity's features as of `as_of`."""
    frame = _frame(con, _codes(con, None), as_of, registry)
    con.register("_snapshot", frame)
    try:
        con.execute(f"CREATE OR REPLACE TABLE {TABLE} AS SELECT * FROM _snapshot")
    finally:
        con.unregister("_snapshot")
    return len(frame)


def refresh(con: Connection, codes: Sequence[str], as_of: dt.date | None = None,
            registry: Registry = REGISTRY) -> int:  # fmt: skip
    """Recompute the snapshot rows of `codes` (e.g. after a correction or a repair)."""
    chosen = _codes(con, codes)
    day = as_of or snapshot_date(con)
    frame = _frame(con, chosen, day, registry)
    con.register("_refresh", frame)
    try:
        con.execute("BEGIN TRANSACTION")
        con.execute(f"DELETE FROM {TABLE} WHERE uscc IN (SELECT uscc FROM _refresh)")
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
