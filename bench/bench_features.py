"""Benchmark point-in-time features: full snapshot, a 100k-pair training frame, one-entity refresh.

    python bench/bench_features.py --store PATH [--pairs 100000] [--refreshes 20]

Refresh is timed warm (a long-lived `snapshot.Refresher`, as an API worker holds) and cold
(preparing the query each call). Works on a copy of the store (the snapshot is written into it). Prints one JSON object.
Targets (issue 3): snapshot of 300,000 entities <= 60 s; 100,000 pairs <= 90 s; refresh <= 50 ms.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from catalog import store
from features import snapshot
from features.compute import compute


def _timed(fn, *args):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--pairs", type=int, default=100_000)
    parser.add_argument("--refreshes", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "platform.duckdb"
        shutil.copy(args.store, path)
        with store.connect(path) as con:
            entities, snap_s = _timed(snapshot.build, con, dt.date(2025, 12, 31))
            codes = [r[0] for r in con.execute("SELECT DISTINCT uscc FROM entities").fetchall()]
            rng = np.random.default_rng(0)
            pairs = pd.DataFrame(
                {
                    "uscc": rng.choice(codes, args.pairs),
                    "as_of": pd.Timestamp("2022-01-01")
                    + pd.to_timedelta(rng.integers(0, 1400, args.pairs), unit="D"),
                }
            )
            _, pairs_s = _timed(compute, con, pairs)
            chosen = rng.choice(codes, args.refreshes)
            cold = [_timed(snapshot.refresh, con, [c])[1] for c in chosen]
            refresher = snapshot.Refresher(con)  # what a long-lived process holds
            refresh = [_timed(refresher.refresh, [c])[1] for c in chosen]
            refresher.close()
    print(
        json.dumps(
            {
                "bench": "features",
                "entities": entities,
                "snapshot_seconds": round(snap_s, 2),
                "pairs": args.pairs,
                "pairs_seconds": round(pairs_s, 2),
                "refresh_ms_median": round(1000 * statistics.median(refresh), 1),
                "refresh_ms_max": round(1000 * max(refresh), 1),
                "refresh_cold_ms_median": round(1000 * statistics.median(cold), 1),
                "targets": {"snapshot_seconds": 60, "pairs_seconds": 90, "refresh_ms": 50},
            }
        )
    )


if __name__ == "__main__":
    main()
