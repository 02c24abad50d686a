"""Benchmark the composite evaluation and the early-warning rules on a platform store.

    python bench/bench_evaluation.py --store PATH [--repeats 3] [--singles 20]

Works on a copy of the store (tables are written into it); builds the feature snapshot as of
--as-of when the store has none. Prints one JSON object: entities graded per second (whole
snapshot, median of repeats), one entity's evaluation (computed now, or its stored row), the
refresh-and-regrade latency, the export, and the warnings found per rule with the run time
and the on-demand latency for a few entities.
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

from catalog import store
from features import snapshot
from platform_services import evaluation, warnings
from platform_services.evaluation.table import exists


def _timed(fn, *args):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - start


def _ms(seconds: list[float]) -> float:
    return round(1000 * statistics.median(seconds), 1)


def _evaluation(con: store.Connection, repeats: int, codes: list[str], out: Path) -> dict:  # type: ignore[type-arg]
    runs = [evaluation.evaluate(con) for _ in range(repeats)]
    _, export_s = _timed(evaluation.export, con, out)
    one = [_timed(evaluation.evaluate_one, con, c)[1] for c in codes]
    stored = [_timed(evaluation.stored_evaluation, con, c)[1] for c in codes]
    regrade = [_timed(evaluation.reevaluate, con, [c])[1] for c in codes]
    refresher = snapshot.Refresher(con)  # what a long-lived process holds
    warm = [_timed(evaluation.reevaluate, con, [c], None, refresher)[1] for c in codes]
    refresher.close()
    return {
        "entities": runs[0].entities,
        "grades": runs[0].grades,
        "seconds": round(statistics.median(r.seconds for r in runs), 3),
        "entities_per_second": round(statistics.median(r.per_second for r in runs)),
        "export_seconds": round(export_s, 2),
        "evaluate_one_ms": _ms(one),
        "stored_evaluation_ms": _ms(stored),
        "refresh_and_regrade_one_ms": _ms(regrade),
        "refresh_and_regrade_one_warm_ms": _ms(warm),
    }


def _warnings(con: store.Connection, as_of: dt.date, repeats: int, codes: list[str]) -> dict:  # type: ignore[type-arg]
    runs = [warnings.run_warnings(con, as_of) for _ in range(repeats)]
    few = [_timed(warnings.warnings_for, con, [c], as_of)[1] for c in codes]
    batch = [_timed(warnings.warnings_for, con, codes[:64], as_of)[1] for _ in range(3)]
    return {
        "as_of": str(as_of),
        "entities": runs[0].entities,
        "warnings": runs[0].warnings,
        "by_rule": runs[0].by_rule,
        "seconds": round(statistics.median(r.seconds for r in runs), 3),
        "warnings_for_one_ms": _ms(few),
        "warnings_for_64_ms": _ms(batch),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--as-of", type=dt.date.fromisoformat, default=dt.date(2025, 12, 31))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--singles", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "platform.duckdb"
        shutil.copy(args.store, path)
        with store.connect(path) as con:
            built = (
                None if exists(con, snapshot.TABLE) else _timed(snapshot.build, con, args.as_of)[1]
            )
            as_of = snapshot.snapshot_date(con)
            codes = [r[0] for r in con.execute(f"SELECT uscc FROM {snapshot.TABLE}").fetchall()]
            chosen = np.random.default_rng(0).choice(codes, args.singles).tolist()
            graded = _evaluation(con, args.repeats, chosen, Path(tmp) / "exports")
            warned = _warnings(con, as_of, args.repeats, chosen)
    print(
        json.dumps(
            {
                "bench": "evaluation",
                "store": str(args.store),
                "snapshot_built_seconds": built and round(built, 2),
                "evaluation": graded,
                "warnings": warned,
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
