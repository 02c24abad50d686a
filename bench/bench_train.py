"""Benchmark model training on 100,000 labelled rows (issue 4: <= 60 s on this machine).

    python bench/bench_train.py --store PATH [--rows 100000]

Rows are cold-start observations (entity, quarter end) of the store with their 12-month
label, features computed point-in-time; the same LightGBM + calibration as `precredit
train`. Feature building, model fitting (incl. calibrator choice) and evaluation (baselines,
tables) are timed separately. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from catalog import store
from models.preapproval import PreapprovalModel
from training.dataset import platform_training_set, store_end, time_split
from training.pipeline import observation_dates
from training.train import spec_from_registry


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    with store.connect(args.store, read_only=True) as con:
        dates = observation_dates(store_end(con))
        started = time.perf_counter()
        frame = platform_training_set(con, dates, args.rows // len(dates) + 1, 42).head(args.rows)
        features_s = time.perf_counter() - started
    splits = time_split(frame)
    started = time.perf_counter()
    model = PreapprovalModel(spec_from_registry(), seed=42)
    model.fit(
        splits["train"],
        splits["train"]["label"].to_numpy(),
        splits["valid"],
        splits["valid"]["label"].to_numpy(),
    )
    fit_s = time.perf_counter() - started
    print(
        json.dumps(
            {
                "bench": "train",
                "rows": len(frame),
                "positives": int(frame["label"].sum()),
                "features_seconds": round(features_s, 2),
                "fit_seconds": round(fit_s, 2),
                "trees": model.classifier_.best_iteration_,
                "calibrator": model.calibrator_.method,
                "target_fit_seconds": 60,
            }
        )
    )


if __name__ == "__main__":
    main()
