"""Benchmark model training on 100,000 labelled rows, the shape selection included.

    python bench/bench_train.py --store PATH [--rows 100000] [--fixed-shape]

Rows are cold-start observations (entity, quarter end) of the store with their 12-month
label, features computed point-in-time; the same selection, LightGBM and calibration as
`precredit train` (`training.train.fit_model`: the shape tuned on the training split, then
the fit early-stopped and calibrated on the validation split). Feature building, the shape
selection and the whole model fit (selection, fit, calibrator choice) are timed separately;
`--fixed-shape` skips the selection (the former 15-leaf, depth-4 shape) for comparison.
Targets: the fit without selection <= 60 s (issue 4), with it <= 180 s (issue 13). Prints one
JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from catalog import store
from training.dataset import platform_training_set, store_end, time_split
from training.pipeline import observation_dates
from training.train import TrainConfig, fit_model, spec_from_registry


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--fixed-shape", action="store_true")
    args = parser.parse_args()
    with store.connect(args.store, read_only=True) as con:
        dates = observation_dates(store_end(con))
        started = time.perf_counter()
        frame = platform_training_set(con, dates, args.rows // len(dates) + 1, 42).head(args.rows)
        features_s = time.perf_counter() - started
    splits = time_split(frame)
    config = TrainConfig(seed=42, tune_shape=not args.fixed_shape)
    started, cpu = time.perf_counter(), time.process_time()
    model, chosen = fit_model(splits, spec_from_registry(), config=config)
    fit_s, cpu_s = time.perf_counter() - started, time.process_time() - cpu
    print(
        json.dumps(
            {
                "bench": "train",
                "rows": len(frame),
                "positives": int(frame["label"].sum()),
                "features_seconds": round(features_s, 2),
                "shape_selection_seconds": round(chosen.seconds, 2) if chosen else 0.0,
                "shape_trials": chosen.trials if chosen else 0,
                "shape": chosen.params if chosen else None,
                "fit_seconds": round(fit_s, 2),
                "fit_cpu_seconds": round(cpu_s, 2),
                "trees": model.classifier_.best_iteration_,
                "calibrator": model.calibrator_.method,
                "load_average": os.getloadavg()[0],
                "target_fit_seconds": 60 if args.fixed_shape else 180,
            }
        )
    )


if __name__ == "__main__":
    main()
