"""Choose the PD model's shape by out-of-time performance *and* by the cost of its reasons.

    python bench/bench_model_shape.py --store PATH [--seed 42] [--calls 500] [--batch-rows 10000]
                                      [--probe-rows 1000] [--batch-budget-seconds 20]
                                      [--fit-threads 1] [--thread-check]

The serving issue asks to "choose the model's shape by out-of-time performance and by this
cost [TreeSHAP reasons], and report both". On the store's cold-start platform frame, built
and split out of time exactly as `precredit train --label platform` does
(`training.pipeline.build_frame` + `training.dataset.time_split` with `TrainConfig` shares),
each shape (num_leaves, max_depth) is fitted as the production `PreapprovalModel` (default
learning rate, early stopping on `valid`, calibrator chosen on `valid`, same seed) and
scored on the newest 20% (`test`). Per shape:

- trees kept (best iteration), leaves per tree, mean/max leaf depth, and a TreeSHAP cost
  proxy, the sum over trees of leaves x depth^2 (deterministic, unlike a latency);
- out-of-time AUC of the calibrated PD (the pipeline's metric; also of the raw score), its
  difference to the current default with a paired-bootstrap standard error, ECE, Brier;
- one-row TreeSHAP (`Booster.predict(pred_contrib=True, num_threads=1)` on a 1-row float64
  array), one-row raw predict and one full `PreapprovalModel.preapprove` on a 1-row array in
  spec order: median and p99 in microseconds over `--calls` timed calls on varied test rows
  after a warm-up. Timing is interleaved: rounds of calls rotate over all shapes, so a
  background job slows every shape alike and within-run ratios stay comparable;
- batch rows/s of `PreapprovalModel.preapprove` with reasons on `--batch-rows` rows in one
  call (production threading: all cores for a batch). A `--probe-rows` call comes first; a
  shape whose projected full batch exceeds `--batch-budget-seconds` reports the probe's rate
  instead (`batch_rows_timed` says which), which keeps the run within about five minutes.
  The probe also times the contributions alone and checks that they sum to the raw score.

Fitting uses `--fit-threads` LightGBM threads (default 1): with `deterministic` and
`force_row_wise` the trees do not depend on it, and on a shared 2-core machine the production
2-thread pool spins when oversubscribed (measured 5-8x slower). `--thread-check` refits the
default shape with the production threads and reports whether trees and calibrator are equal.

Recommendation rule (stated in the JSON): the cheapest shape by one-row TreeSHAP median
whose out-of-time AUC is within 0.005 of the best shape's. Opens the store read-only (it is
shared with other benchmarks); if it is locked, works on a temporary copy. Prints one JSON
object on stdout, progress on stderr. About 4-5 minutes on 2 busy cores.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from catalog import store
from catalog.errors import StoreError
from models.pd_model import DEFAULT_PARAMS
from models.preapproval import ModelConfig, PreapprovalModel
from training import metrics
from training.dataset import time_split
from training.pipeline import PipelineConfig, build_frame
from training.train import MIN_BADS_PER_SPLIT, TrainConfig, spec_from_registry

DEFAULT_SHAPE = (int(DEFAULT_PARAMS["num_leaves"]), int(DEFAULT_PARAMS["max_depth"]))
SHAPES: tuple[tuple[int, int], ...] = ((7, 3), (15, 4), DEFAULT_SHAPE, (15, -1), (31, 6), (31, -1), (63, -1))  # fmt: skip
AUC_TOLERANCE = 0.005
WARMUP = 30
ROUNDS = 5
BOOTSTRAPS = 200


@dataclass
class Shape:
    """One fitted shape and what was measured on it."""

    num_leaves: int
    max_depth: int
    model: PreapprovalModel
    fit_seconds: float
    shap_us: list[float] = field(default_factory=list)
    predict_us: list[float] = field(default_factory=list)
    preapprove_us: list[float] = field(default_factory=list)
    batch: dict[str, float] = field(default_factory=dict)

    @property
    def key(self) -> tuple[int, int]:
        return self.num_leaves, self.max_depth

    @property
    def name(self) -> str:
        depth = "unlimited" if self.max_depth < 0 else str(self.max_depth)
        return f"{self.num_leaves} leaves, depth {depth}"

    @property
    def booster(self) -> lgb.Booster:
        return self.model.classifier_.booster_

    @property
    def trees(self) -> int:
        return int(self.model.classifier_.best_iteration_)


def log(message: str) -> None:
    """Progress on stderr (stdout carries only the JSON)."""
    print(f"[bench_model_shape {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def open_store(path: Path, stack: ExitStack) -> tuple[store.Connection, str]:
    """The store read-only; a temporary copy if another process holds it locked."""
    try:
        return stack.enter_context(store.connect(path, read_only=True)), "read_only"
    except StoreError:
        copy = Path(stack.enter_context(tempfile.TemporaryDirectory())) / path.name
        shutil.copyfile(path, copy)
        return stack.enter_context(store.connect(copy, read_only=True)), "temporary_copy"


def tree_stats(booster: lgb.Booster, trees: int) -> dict[str, float]:
    """Leaves per tree and leaf depths of the kept trees (count-weighted: a row's mean path)."""
    per_tree: list[tuple[int, int]] = []  # (leaves, max depth)
    depths: list[int] = []
    counts: list[int] = []

    def walk(node: dict[str, Any], depth: int) -> None:
        if "left_child" not in node:
            depths.append(depth)
            counts.append(int(node.get("leaf_count", 0)))
            return
        walk(node["left_child"], depth + 1)
        walk(node["right_child"], depth + 1)

    for info in booster.dump_model(num_iteration=trees)["tree_info"]:
        first = len(depths)
        walk(info["tree_structure"], 0)
        per_tree.append((len(depths) - first, max(depths[first:])))
    d, c = np.asarray(depths, float), np.asarray(counts, float)
    # TreeSHAP's work per row and tree grows with leaves x depth^2 (Lundberg et al. 2020).
    proxy = sum(leaves * max(depth, 1) ** 2 for leaves, depth in per_tree)
    return {
        "mean_leaves_per_tree": round(len(depths) / len(per_tree), 2),
        "mean_leaf_depth": round(float(d.mean()), 2),
        "mean_leaf_depth_count_weighted": round(float((d * c).sum() / max(c.sum(), 1.0)), 2),
        "max_leaf_depth": int(d.max()),
        "shap_cost_proxy": int(proxy),
    }


def paired_bootstrap_se(
    y: np.ndarray, a: np.ndarray, b: np.ndarray, rng: np.random.Generator
) -> float:
    """Standard error of AUC(a) - AUC(b) over bootstrap resamples of the test rows."""
    diffs = []
    for _ in range(BOOTSTRAPS):
        idx = rng.integers(0, len(y), len(y))
        diffs.append(metrics.auc(y[idx], a[idx]) - metrics.auc(y[idx], b[idx]))
    return float(np.std(diffs, ddof=1))


def percentiles(us: list[float]) -> dict[str, float]:
    """Median and p99 in microseconds."""
    arr = np.asarray(us)
    return {
        "median_us": round(float(np.median(arr)), 1),
        "p99_us": round(float(np.percentile(arr, 99)), 1),
    }


def fit_one(
    splits: dict[str, pd.DataFrame], shape: tuple[int, int], seed: int, top_n: int, threads: int
) -> Shape:
    """The production `PreapprovalModel` with this shape (fit threads do not change the trees)."""
    train_, valid = splits["train"], splits["valid"]
    params = {"num_leaves": shape[0], "max_depth": shape[1], "num_threads": threads}
    started = time.perf_counter()
    model = PreapprovalModel(
        spec_from_registry(), seed=seed, config=ModelConfig(params=params, top_n=top_n)
    )
    model.fit(train_, train_["label"].to_numpy(), valid, valid["label"].to_numpy())
    return Shape(shape[0], shape[1], model, time.perf_counter() - started)


def trees_text(model: PreapprovalModel) -> str:
    """The model text without its parameter echo (which records num_threads)."""
    return re.sub(r"\[num_threads: \d+\]\n", "", model.classifier_.model_text())


def thread_check(
    splits: dict[str, pd.DataFrame], default: Shape, seed: int, top_n: int
) -> dict[str, Any]:
    """Refit the default shape with the production fit threads: the same trees, and how long."""
    threads = int(DEFAULT_PARAMS["num_threads"])
    production = fit_one(splits, DEFAULT_SHAPE, seed, top_n, threads)
    same = trees_text(production.model) == trees_text(default.model)
    same &= production.model.calibrator_.to_dict() == default.model.calibrator_.to_dict()
    return {
        "shape": default.name,
        "identical_trees_and_calibrator": same,
        f"fit_seconds_threads_{threads}": round(production.fit_seconds, 1),
        "fit_seconds_threads_1": round(default.fit_seconds, 1),
    }


def time_calls(
    call: Callable[[np.ndarray], object], rows: list[np.ndarray], out: list[float]
) -> None:
    """Append the microseconds of each call, one row per call."""
    for row in rows:
        t0 = time.perf_counter()
        call(row)
        out.append((time.perf_counter() - t0) * 1e6)


def measure_latency(shapes: list[Shape], rows: list[np.ndarray], calls: int) -> None:
    """One-row SHAP, raw predict and preapprove, in rounds rotating over the shapes."""
    for s in shapes:  # warm-up: first-call allocations, lazy imports, caches
        for row in rows[:WARMUP]:
            s.booster.predict(row, pred_contrib=True, num_iteration=s.trees, num_threads=1)
            s.model.preapprove(row)
    timed = rows[WARMUP : WARMUP + calls]
    per_round = -(-len(timed) // ROUNDS)
    for r in range(ROUNDS):
        chunk = timed[r * per_round : (r + 1) * per_round]
        gc.collect()
        for s in shapes[r % len(shapes) :] + shapes[: r % len(shapes)]:
            b, t = s.booster, s.trees
            time_calls(
                lambda x, b=b, t=t: b.predict(x, pred_contrib=True, num_iteration=t, num_threads=1),
                chunk,
                s.shap_us,
            )
            time_calls(
                lambda x, b=b, t=t: b.predict(x, raw_score=True, num_iteration=t, num_threads=1),
                chunk,
                s.predict_us,
            )
            time_calls(s.model.preapprove, chunk, s.preapprove_us)


def measure_batch(shapes: list[Shape], batch: np.ndarray, probe_rows: int, budget_s: float) -> None:
    """Batch rows/s with reasons: the whole `batch` in one call if a `probe_rows` call projects it
    within `budget_s`, else the probe's rate (the slow shapes, to keep the run short).

    The probe also times the contributions alone and checks their additivity to the raw score.
    """
    for s in shapes:
        gc.collect()
        head = np.ascontiguousarray(batch[:probe_rows])
        t0 = time.perf_counter()
        contributions = s.model.contributions(head)
        contrib_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        decisions = s.model.preapprove(head)
        elapsed, rows = time.perf_counter() - t0, len(head)
        if elapsed * len(batch) / len(head) <= budget_s:
            gc.collect()
            t0 = time.perf_counter()
            decisions = s.model.preapprove(batch)
            elapsed, rows = time.perf_counter() - t0, len(batch)
        if len(decisions) != rows or not all(d["reasons"] for d in decisions[:100]):
            raise RuntimeError(f"{s.name}: a batch pre-approval came back incomplete")
        s.batch = {
            "rows_per_s_preapprove_with_reasons": rows / elapsed,
            "rows_timed": rows,
            "rows_per_s_contributions_only": len(head) / contrib_s,
            "additivity_max_error": float(
                np.abs(contributions.sum(axis=1) - s.model.raw_score(head)).max()
            ),
        }
        log(
            f"batch {s.name}: {s.batch['rows_per_s_preapprove_with_reasons']:.0f} rows/s over {rows} rows"
        )


def shape_report(
    s: Shape,
    y: np.ndarray,
    pds: dict[tuple[int, int], np.ndarray],
    raw: np.ndarray,
    default: Shape,
    seed: int,
) -> dict[str, Any]:
    """Everything measured on one shape, with its ratios to the default shape."""
    pd_test, default_pd = pds[s.key], pds[default.key]
    summary = metrics.summary(y, pd_test)
    is_default = s.key == default.key
    se = (
        None
        if is_default
        else paired_bootstrap_se(y, pd_test, default_pd, np.random.default_rng(seed))
    )
    stats = tree_stats(s.booster, s.trees)
    ratio = {
        "treeshap_median": float(np.median(s.shap_us)) / float(np.median(default.shap_us)),
        "preapprove_median": float(np.median(s.preapprove_us))
        / float(np.median(default.preapprove_us)),
        "batch_rows_per_s": s.batch["rows_per_s_preapprove_with_reasons"]
        / default.batch["rows_per_s_preapprove_with_reasons"],
        "shap_cost_proxy": stats["shap_cost_proxy"]
        / tree_stats(default.booster, default.trees)["shap_cost_proxy"],
    }
    return {
        "shape": s.name,
        "num_leaves": s.num_leaves,
        "max_depth": s.max_depth,
        "is_default": is_default,
        "trees_kept": s.trees,
        **stats,
        "oot_auc": round(summary["auc"], 4),
        "oot_auc_raw_score": round(metrics.auc(y, raw), 4),
        "oot_auc_minus_default": round(summary["auc"] - metrics.auc(y, default_pd), 4),
        "oot_auc_minus_default_bootstrap_se": None if se is None else round(se, 4),
        "oot_ece": round(summary["ece"], 4),
        "oot_brier": round(summary["brier"], 4),
        "calibrator": s.model.calibrator_.method,
        "fit_seconds": round(s.fit_seconds, 1),
        "one_row_treeshap": percentiles(s.shap_us),
        "one_row_predict_without_shap": percentiles(s.predict_us),
        "one_row_preapprove": percentiles(s.preapprove_us),
        "batch_rows_per_s_preapprove_with_reasons": round(
            s.batch["rows_per_s_preapprove_with_reasons"]
        ),
        "batch_rows_timed": int(s.batch["rows_timed"]),
        "batch_rows_per_s_contributions_only": round(s.batch["rows_per_s_contributions_only"]),
        "shap_additivity_max_error": float(f"{s.batch['additivity_max_error']:.2e}"),
        "ratio_to_default": {k: round(v, 2) for k, v in ratio.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--batch-rows", type=int, default=10_000)
    parser.add_argument("--probe-rows", type=int, default=1_000)
    parser.add_argument("--batch-budget-seconds", type=float, default=20.0)
    parser.add_argument("--fit-threads", type=int, default=1)
    parser.add_argument("--thread-check", action="store_true")
    args = parser.parse_args()
    started, load_start = time.perf_counter(), os.getloadavg()
    rng = np.random.default_rng(args.seed)
    train_config = TrainConfig(seed=args.seed)
    config = PipelineConfig(
        store_path=args.store, tracking_uri="unused", artifact_root=Path("unused"), seed=args.seed
    )
    with ExitStack() as stack:
        con, access = open_store(args.store, stack)
        frame = build_frame(con, "platform", "platform", config)
    frame_s = time.perf_counter() - started
    log(f"frame: {len(frame)} rows in {frame_s:.1f} s (store {access})")
    splits = time_split(frame, train_config.shares)
    for name, part in splits.items():  # the guard of training.train.train
        if int(part["label"].sum()) < MIN_BADS_PER_SPLIT:
            raise SystemExit(f"too few defaults in the {name} split to train out of time")

    t0 = time.perf_counter()
    shapes = []
    for shape in SHAPES:
        shapes.append(fit_one(splits, shape, args.seed, train_config.top_n, args.fit_threads))
        log(f"fitted {shapes[-1].name}: {shapes[-1].trees} trees, {shapes[-1].fit_seconds:.1f} s")
    fit_s = time.perf_counter() - t0
    default = next(s for s in shapes if s.key == DEFAULT_SHAPE)
    checked = (
        thread_check(splits, default, args.seed, train_config.top_n) if args.thread_check else None
    )

    test = splits["test"]
    y = test["label"].to_numpy()
    matrix = default.model.classifier_.matrix(test)  # spec order, float64: the serving input
    picks = rng.choice(len(test), WARMUP + args.calls)
    rows = [np.ascontiguousarray(matrix[i : i + 1]) for i in picks]
    batch = np.ascontiguousarray(matrix[np.resize(rng.permutation(len(test)), args.batch_rows)])
    t0 = time.perf_counter()
    measure_latency(shapes, rows, args.calls)
    latency_s = time.perf_counter() - t0
    log(f"one-row timing done in {latency_s:.1f} s")
    t0 = time.perf_counter()
    measure_batch(shapes, batch, args.probe_rows, args.batch_budget_seconds)
    batch_s = time.perf_counter() - t0

    pds = {s.key: s.model.predict_proba(test) for s in shapes}
    results = [shape_report(s, y, pds, s.model.raw_score(test), default, args.seed) for s in shapes]
    best_auc = max(r["oot_auc"] for r in results)
    eligible = [r for r in results if r["oot_auc"] >= best_auc - AUC_TOLERANCE]
    chosen = min(eligible, key=lambda r: r["one_row_treeshap"]["median_us"])
    by_proxy = min(eligible, key=lambda r: r["shap_cost_proxy"])
    print(
        json.dumps(
            {
                "bench": "model_shape",
                "store": str(args.store),
                "store_access": access,
                "seed": args.seed,
                "lightgbm": lgb.__version__,
                "cpus": os.cpu_count(),
                "frame": {
                    "rows": len(frame),
                    "features": len(default.model.spec.names),
                    **{f"{k}_rows": len(v) for k, v in splits.items()},
                    **{f"{k}_bads": int(v["label"].sum()) for k, v in splits.items()},
                    "test_as_of": [
                        str(test["as_of"].min().date()),
                        str(test["as_of"].max().date()),
                    ],
                },
                "fixed_params": {
                    k: v
                    for k, v in DEFAULT_PARAMS.items()
                    if k not in ("num_leaves", "max_depth", "num_threads")
                }
                | {
                    "n_estimators": 800,
                    "early_stopping_rounds": 60,
                    "fit_num_threads": args.fit_threads,
                },
                "fit_thread_check": checked,
                "timing": {
                    "one_row_calls": args.calls,
                    "warmup_calls": WARMUP,
                    "interleaved_rounds": ROUNDS,
                    "one_row_threads": 1,
                    "batch_rows_preapprove": len(batch),
                    "batch_probe_rows": args.probe_rows,
                    "batch_rule": f"one call on all {len(batch)} rows when the {args.probe_rows}-row probe projects it within "
                    f"{args.batch_budget_seconds:g} s, else the probe's rate (see batch_rows_timed)",
                    "batch_threads": "production (all cores for >= 512 rows), one pass per shape",
                },
                "shapes": results,
                "rule": f"recommend the cheapest shape by one-row TreeSHAP median latency among the shapes whose "
                f"out-of-time AUC (calibrated PD, test split) is within {AUC_TOLERANCE} of the best shape's",
                "best_oot_auc": best_auc,
                "eligible": [r["shape"] for r in eligible],
                "recommended": chosen["shape"],
                "recommended_is_default": chosen["is_default"],
                "recommended_by_cost_proxy": by_proxy["shape"],
                "note": "other jobs share this 2-core machine during the run (see load averages): absolute "
                "microseconds and rows/s move with their load; compare ratios within this run (one-row "
                "timing is interleaved across shapes) and weigh AUC differences against their bootstrap SE",
                "load_average_1min_start_end": [
                    round(load_start[0], 2),
                    round(os.getloadavg()[0], 2),
                ],
                "seconds": {
                    "frame": round(frame_s, 1),
                    "fit_all": round(fit_s, 1),
                    "one_row_timing": round(latency_s, 1),
                    "batch_timing": round(batch_s, 1),
                    "total": round(time.perf_counter() - started, 1),
                },
            }
        )
    )


if __name__ == "__main__":
    main()
