"""Point-in-time rows kept across retrainings equal a fresh computation, row for row."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from catalog import store
from features.compute import compute
from training import feature_cache


def _pairs(con: store.Connection, n: int, days: list[str]) -> pd.DataFrame:
    codes = [
        r[0] for r in con.execute("SELECT uscc FROM entities ORDER BY uscc LIMIT ?", [n]).fetchall()
    ]
    return pd.DataFrame(
        {
            "uscc": [c for c in codes for _ in days],
            "as_of": pd.to_datetime([d for _ in codes for d in days]),
        }
    )


def test_cached_rows_equal_compute_and_only_new_rows_are_computed(tiny_store: Path) -> None:
    feature_cache.clear()
    with store.connect(tiny_store, read_only=True) as con:
        first = _pairs(con, 40, ["2023-06-30", "2024-03-31"])
        got = feature_cache.features(con, first, tiny_store)
        pd.testing.assert_frame_equal(got, compute(con, first))
        kept = len(next(iter(feature_cache._ROWS.values())))
        # a later retraining: the same loans, a duplicate, and rows of a new date, shuffled
        later = pd.concat([first, first.iloc[:3], _pairs(con, 40, ["2024-09-30"])])
        later = later.sample(frac=1.0, random_state=3).reset_index(drop=True)
        again = feature_cache.features(con, later, tiny_store)
        pd.testing.assert_frame_equal(again, compute(con, later))
    assert kept == 80
    assert len(next(iter(feature_cache._ROWS.values()))) == 120  # only the 40 new rows added
    feature_cache.clear()


def test_another_store_does_not_share_rows(tiny_store: Path, tmp_path: Path) -> None:
    feature_cache.clear()
    copy = tmp_path / "copy.duckdb"
    copy.write_bytes(tiny_store.read_bytes())
    with store.connect(tiny_store, read_only=True) as con:
        pairs = _pairs(con, 5, ["2024-03-31"])
        feature_cache.features(con, pairs, tiny_store)
    with store.connect(copy) as con:
        con.execute("DELETE FROM penalties")  # the copy no longer holds the same records
        pd.testing.assert_frame_equal(feature_cache.features(con, pairs, copy), compute(con, pairs))
    assert len(feature_cache._ROWS) == 2
    feature_cache.clear()
