"""Benchmark training on Dask against one process (issue 16 §3), in one run.

    python bench/bench_train_dask.py [--store PATH | --entities 20000] [--workers 2] [--repeats 1]

Without `--store`, generates a platform of `--entities` entities (seed 42) in a temporary
directory. Builds the cold-start training frame as `precredit train --label platform` does
(quarter ends of three years, 6,000 entities per date), then fits the same model (same split,
seed, parameters, monotone constraints, calibration) in this process and on a local Dask
cluster of `--workers` processes, alternating (single, dask) `--repeats` times; the cluster is
started once and its start-up is timed apart. A fit is `PreapprovalModel.fit`: trees, best
iteration and calibration (not the baselines and review tables `precredit train` adds, the same
for both). Prints one JSON object: fit seconds (median of the repeats) and out-of-time AUC (the
newest 20% of observation dates) of each engine, their difference, trees, and the machine's load.

The Dask engine grows all 800 rounds (lightgbm.dask has no early stopping) and keeps the best
iteration by the early-stopping rule; one process stops 60 rounds after it. On one machine
Dask adds process start-up, data transfer and LightGBM's socket network: it is there for
training sets larger than one machine's memory, not to be faster here.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

from catalog import store
from models.boosting import Boosting
from models.preapproval import ModelConfig, PreapprovalModel
from synthetic.config import SynthConfig
from synthetic.generate import generate
from training import metrics
from training.dask_engine import DaskEngine, local_cluster
from training.dataset import time_split
from training.pipeline import PipelineConfig, build_frame
from training.train import spec_from_registry


def _frame(path: Path) -> pd.DataFrame:
    config = PipelineConfig(path, "sqlite:///unused.db", Path("unused"))
    with store.connect(path, read_only=True) as con:
        return build_frame(con, "platform", "platform", config)


Fit = tuple[float, PreapprovalModel]


def _fit(splits: dict[str, pd.DataFrame], boosting: Boosting | None) -> Fit:
    """One `PreapprovalModel.fit` (trees, early stopping, calibration), timed."""
    train, valid = splits["train"], splits["valid"]
    model = PreapprovalModel(spec_from_registry(), seed=42, config=ModelConfig(boosting=boosting))
    started = time.perf_counter()
    model.fit(train, train["label"].to_numpy(), valid, valid["label"].to_numpy())
    return time.perf_counter() - started, model


def _summary(fits: list[Fit], test: pd.DataFrame) -> dict[str, Any]:
    model = fits[-1][1]
    return {
        "fit_seconds": round(statistics.median(s for s, _ in fits), 2),
        "fit_seconds_each": [round(s, 2) for s, _ in fits],
        "auc": round(metrics.auc(test["label"].to_numpy(), model.predict_proba(test)), 5),
        "best_iteration": model.classifier_.best_iteration_,
        "calibrator": model.calibrator_.method,
    }


def bench(path: Path, workers: int, repeats: int) -> dict[str, Any]:
    """Single-process and Dask fits of one split, alternated; their seconds and AUCs."""
    started = time.perf_counter()
    frame = _frame(path)
    frame_s = time.perf_counter() - started
    splits = time_split(frame)
    single: list[Fit] = []
    dask: list[Fit] = []
    started = time.perf_counter()
    with local_cluster(workers, seed=42) as client:
        cluster_s = time.perf_counter() - started
        on_dask = Boosting(engine=DaskEngine(client))
        for _ in range(repeats):
            single.append(_fit(splits, None))
            dask.append(_fit(splits, on_dask))
    one, many = _summary(single, splits["test"]), _summary(dask, splits["test"])
    return {
        "bench": "train_dask",
        "rows": len(frame),
        "train_rows": len(splits["train"]),
        "positives": int(frame["label"].sum()),
        "workers": workers,
        "threads_per_worker": 1,
        "frame_seconds": round(frame_s, 2),
        "cluster_start_seconds": round(cluster_s, 2),
        "single": one,
        "dask": many,
        "dask_to_single_fit_seconds": round(many["fit_seconds"] / one["fit_seconds"], 2),
        "auc_difference": round(many["auc"] - one["auc"], 5),
        "target_auc_difference": 0.005,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", type=Path)
    parser.add_argument("--entities", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        path = args.store
        if path is None:
            path = Path(scratch) / "platform.duckdb"
            generate(path, SynthConfig(entities=args.entities, seed=42))
        out = bench(path, args.workers, args.repeats)
    out["entities"] = None if args.store else args.entities
    print(json.dumps(out))


if __name__ == "__main__":
    main()
