"""Benchmark point-in-time features: full snapshot, a 100k-pair training frame, one-entity refresh.

    python bench/bench_features.py --store PATH [--pairs 100000] [--refreshes 20] [--spark]
    python bench/bench_features.py --store PATH --spark --pairs 0 --refreshes 0   # Spark only

With `--spark`, the store is exported to Parquet and every entity's features as of the same day
are computed by DuckDB (over those files) and by Spark in local mode (`local[2]`), checked
equal, and timed: Spark's session start apart from the query, a first (cold) and a second
(warm) run, and the ratio Spark/DuckDB (issue 16 target: <= 3 at 300,000 entities).

Refresh is timed warm (a long-lived `snapshot.Refresher`, as an API worker holds) and cold
(preparing the query each call). Works on a copy of the store (the snapshot is written into it). Prints one JSON object.
Targets (issue 3): snapshot of 300,000 entities <= 60 s; 100,000 pairs <= 90 s; refresh <= 50 ms.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from catalog import ingest, store
from features import snapshot
from features.compute import compute
from features.definitions import REGISTRY
from features.platform_files import duckdb_views

AS_OF = dt.date(2025, 12, 31)


def _timed(fn, *args):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - start


def _cpu_timed(fn, *args):  # type: ignore[no-untyped-def]
    """Wall and CPU seconds (this process, plus the Spark JVM when one is running)."""
    before = time.process_time() + _jvm_cpu()
    result, wall = _timed(fn, *args)
    return result, wall, time.process_time() + _jvm_cpu() - before


def _jvm_cpu() -> float:
    """CPU seconds of the local Spark JVM (user + system), 0 without one."""
    from pyspark import SparkContext

    gateway = SparkContext._gateway
    if gateway is None:
        return 0.0
    fields = Path(f"/proc/{gateway.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _spark(store_path: Path, tmp: Path) -> dict[str, object]:
    """DuckDB and Spark on the same Parquet export: every entity as of AS_OF."""
    from features import spark

    files = tmp / "files"
    with store.connect(store_path, read_only=True) as con:
        ingest.export_dir(con, files, "parquet")
    with duckdb_views(files) as con:
        codes = snapshot._codes(con, None)
        pairs = pd.DataFrame({"uscc": codes, "as_of": AS_OF})
        duck, duck_s, duck_cpu = _cpu_timed(compute, con, pairs)
    session, start_s = _timed(spark.session)
    try:
        _, cold_s, cold_cpu = _cpu_timed(spark.compute, session, files, AS_OF)
        sparked, warm_s, warm_cpu = _cpu_timed(spark.compute, session, files, AS_OF)
    finally:
        session.stop()
    equal = all(
        np.allclose(duck[n], sparked[n], rtol=1e-15, atol=0, equal_nan=True) for n in REGISTRY.names
    )
    return {
        "entities": len(duck),
        "duckdb_seconds": round(duck_s, 2),
        "spark_session_start_seconds": round(start_s, 2),
        "spark_first_seconds": round(cold_s, 2),
        "spark_seconds": round(warm_s, 2),
        "ratio_spark_over_duckdb": round(warm_s / duck_s, 2),
        "ratio_first_run": round(cold_s / duck_s, 2),
        "cpu_seconds": {
            "duckdb": round(duck_cpu, 2),
            "spark_first": round(cold_cpu, 2),
            "spark": round(warm_cpu, 2),
        },
        "ratio_cpu": round(warm_cpu / duck_cpu, 2),
        "equal": equal,
        "target_ratio": 3,
    }


def _duckdb(args: argparse.Namespace, path: Path) -> dict[str, object]:
    """Snapshot, a training frame of random pairs, and point refreshes, on a copy of the store."""
    out: dict[str, object] = {}
    with store.connect(path) as con:
        entities, snap_s = _timed(snapshot.build, con, AS_OF)
        out |= {"entities": entities, "snapshot_seconds": round(snap_s, 2)}
        codes = [r[0] for r in con.execute("SELECT DISTINCT uscc FROM entities").fetchall()]
        rng = np.random.default_rng(0)
        if args.pairs:
            pairs = pd.DataFrame(
                {
                    "uscc": rng.choice(codes, args.pairs),
                    "as_of": pd.Timestamp("2022-01-01")
                    + pd.to_timedelta(rng.integers(0, 1400, args.pairs), unit="D"),
                }
            )
            _, pairs_s = _timed(compute, con, pairs)
            out |= {"pairs": args.pairs, "pairs_seconds": round(pairs_s, 2)}
        if args.refreshes:
            chosen = rng.choice(codes, args.refreshes)
            cold = [_timed(snapshot.refresh, con, [c])[1] for c in chosen]
            refresher = snapshot.Refresher(con)  # what a long-lived process holds
            refresh = [_timed(refresher.refresh, [c])[1] for c in chosen]
            refresher.close()
            out |= {
                "refresh_ms_median": round(1000 * statistics.median(refresh), 1),
                "refresh_ms_max": round(1000 * max(refresh), 1),
                "refresh_cold_ms_median": round(1000 * statistics.median(cold), 1),
            }
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--pairs", type=int, default=100_000)
    parser.add_argument("--refreshes", type=int, default=20)
    parser.add_argument("--spark", action="store_true", help="also time the Spark engine")
    args = parser.parse_args()
    result: dict[str, object] = {"bench": "features"}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "platform.duckdb"
        shutil.copy(args.store, path)
        result |= _duckdb(args, path)
        result["targets"] = {"snapshot_seconds": 60, "pairs_seconds": 90, "refresh_ms": 50}
        if args.spark:
            result["spark"] = _spark(path, Path(tmp))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
