"""What share of the hindsight bound can a bank's volume of loans reach, with no selection at all?

    python bench/bench_loop_learning_curve.py --store PATH [--sizes 2000,4000,...,all]
        [--seeds 5] [--sim-report DIR] [--cache FILE] [--per-date 6000] [--seed 42]

`bench/bench_loop_headroom.py` bounds what outcomes can add: on the same rows and features, a
model trained on every entity's drawn loan outcome (hindsight, no selection) against the
cold-start model, both scored on the same out-of-time test rows. This bench draws the same
outcomes (same seed), keeps the same test rows and the same two reference models, and trains
on seeded random subsets of the hindsight training rows (train and validation splits sampled
at the same fraction, so N counts the rows that fit and early-stop, as a bank's 80% of loans
do) two ways:

- `scratch`: a model of the subset alone, fitted as the bound's model is (`fit_model`: the
  shape tuned on the training split when it holds 40 defaults, else the default shape);
- `corrections`: as the retraining does, small trees (`training.retrain.CORRECTION_PARAMS`)
  boosting from the cold-start model's raw score, so N = 0 is the cold-start model itself.

For each N: the AUC gain over the cold-start model on the test rows, its share of the bound
(the full-data `scratch` gain, which this bench recomputes), the spread over the subset seeds
(mean, standard deviation, min, max, a t-interval of the mean) and, for the first seed, the
seeded paired-bootstrap 95% interval of the gain on the test rows (`training.paired_auc`).
With `--sim-report` (a `precredit simulate` report directory) it marks each bank's matured
loans and defaults at every retraining round, where they sit on the curve by rows and by
defaults (log-linear interpolation of the mean share). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import pandas as pd
from scipy import stats

from catalog import store
from models.preapproval import PreapprovalModel
from training import metrics
from training.dataset import time_split
from training.paired_auc import paired_auc
from training.pipeline import PipelineConfig, build_frame
from training.retrain import CORRECTION_PARAMS
from training.train import TrainConfig, fit_model, spec_from_registry

WAYS = ("scratch", "corrections")
TRAIN_SHARE = 0.8  # a bank's loans that fit and early-stop (the rest is its out-of-time test)


def hindsight_frame(store_path: Path, per_date: int, seed: int, cache: Path | None) -> pd.DataFrame:
    """The bound's rows (cold-start label) with `outcome` drawn from the true PD, as the bound does."""
    if cache is not None and cache.exists():
        return pd.read_parquet(cache)
    config = PipelineConfig(store_path, "sqlite://", Path("."), seed=seed, per_date=per_date)
    with store.connect(store_path, read_only=True) as con:
        frame = build_frame(con, "platform", "platform", config)
    frame = frame[frame["truth_pd"].notna()].reset_index(drop=True)
    rng = np.random.default_rng(seed)
    frame["outcome"] = (rng.random(len(frame)) < frame["truth_pd"].to_numpy()).astype(np.int64)
    if cache is not None:
        frame.to_parquet(cache)
    return frame


def fit(
    splits: dict[str, pd.DataFrame],
    seed: int,
    base: PreapprovalModel | None = None,
    params: dict[str, Any] | None = None,
) -> PreapprovalModel:
    """The bound's fit (tuned shape), or small corrections (`params` over
    `CORRECTION_PARAMS`) boosted from `base`."""
    config = TrainConfig(seed=seed)
    if base is not None:
        config = replace(config, params=CORRECTION_PARAMS | (params or {}))
    model, _ = fit_model(splits, spec_from_registry(), None, config, base)
    return model


def ways_of(args: argparse.Namespace) -> dict[str, dict[str, Any] | None]:
    """Each way's correction parameters (None: from scratch), `--variants` as `corrections:NAME`."""
    chosen: dict[str, dict[str, Any] | None] = {"scratch": None, "corrections": {}}
    out = {w: chosen[w] for w in args.ways.split(",") if w}
    variants: dict[str, dict[str, Any]] = json.loads(args.variants) if args.variants else {}
    return out | {f"corrections:{name}": params for name, params in variants.items()}


def subset(
    splits: dict[str, pd.DataFrame], n: int, rng: np.random.Generator
) -> dict[str, pd.DataFrame]:
    """Train and valid sampled at the fraction that leaves `n` rows in both; test unchanged."""
    fraction = n / (len(splits["train"]) + len(splits["valid"]))
    out = dict(splits)
    for name in ("train", "valid"):
        part = splits[name]
        keep = np.sort(rng.choice(len(part), round(len(part) * fraction), replace=False))
        out[name] = part.iloc[keep]
    return out


def stratified(
    splits: dict[str, pd.DataFrame], rows: int, defaults: int, rng: np.random.Generator
) -> dict[str, pd.DataFrame]:
    """Train and valid sampled to `rows` rows holding `defaults` defaults in all (each split its
    share of both), drawn at random within each label: a bank's counts without its selection."""
    total = len(splits["train"]) + len(splits["valid"])
    out = dict(splits)
    for name in ("train", "valid"):
        part = splits[name]
        share = len(part) / total
        bad = np.flatnonzero(part["label"].to_numpy() == 1)
        good = np.flatnonzero(part["label"].to_numpy() == 0)
        n_bad = round(defaults * share)
        picked = np.concatenate(
            [
                rng.choice(bad, n_bad, replace=False),
                rng.choice(good, round(rows * share) - n_bad, replace=False),
            ]
        )
        out[name] = part.iloc[np.sort(picked)]
    return out


def interval(gains: list[float]) -> list[float]:
    """95% t-interval of the mean over subset seeds (a single seed: its value twice)."""
    if len(gains) < 2:
        return [gains[0], gains[0]]
    half = stats.t.ppf(0.975, len(gains) - 1) * np.std(gains, ddof=1) / np.sqrt(len(gains))
    return [float(np.mean(gains) - half), float(np.mean(gains) + half)]


def summarise(gains: list[float], bound: float) -> dict[str, Any]:
    """Mean gain, its share of the bound and the spread over the subset seeds."""
    low, high = interval(gains)
    return {
        "mean_gain": round(float(np.mean(gains)), 4),
        "share_of_bound": round(float(np.mean(gains)) / bound, 3),
        "sd": round(float(np.std(gains, ddof=1)), 4) if len(gains) > 1 else 0.0,
        "min": round(min(gains), 4),
        "max": round(max(gains), 4),
        "ci95_mean": [round(low, 4), round(high, 4)],
        "share_ci95_mean": [round(low / bound, 3), round(high / bound, 3)],
        "gains": [round(g, 4) for g in gains],
    }


def bank_marks(report_dir: Path) -> list[dict[str, Any]]:
    """Each bank's matured loans and defaults at every round where it retrained."""
    report = json.loads((report_dir / "report.json").read_text())
    marks = []
    for record in report["records"]:
        retrain = record.get("retrain") or {}
        if retrain.get("version"):
            marks.append(
                {
                    "bank": record["bank"],
                    "round": record["round"],
                    "date": record["date"],
                    "loans": record["outcomes_reported_total"],
                    "defaults": record["defaults_reported_total"],
                }
            )
    return marks


def bank_shaped(
    marks: list[dict[str, Any]],
    splits: dict[str, pd.DataFrame],
    cold: PreapprovalModel,
    ways: dict[str, dict[str, Any] | None],
    args: argparse.Namespace,
) -> list[dict[str, Any]]:
    """Per retraining round, unbiased samples with the banks' mean rows and defaults (80%)."""
    test = splits["test"]
    y = test["label"].to_numpy()
    auc_cold = metrics.auc(y, cold.predict_proba(test))
    out = []
    for day in sorted({m["date"] for m in marks}):
        at = [m for m in marks if m["date"] == day]
        rows = round(np.mean([m["loans"] for m in at]) * TRAIN_SHARE)
        defaults = round(np.mean([m["defaults"] for m in at]) * TRAIN_SHARE)
        gains: dict[str, list[float]] = {w: [] for w in ways}
        for k in range(args.seeds):
            part = stratified(splits, rows, defaults, np.random.default_rng([args.seed, rows, k]))
            for way, params in ways.items():
                model = fit(part, args.seed, None if params is None else cold, params)
                gains[way].append(metrics.auc(y, model.predict_proba(test)) - auc_cold)
        point: dict[str, Any] = {"round": at[0]["round"], "date": day, "rows": rows}
        out.append(point | {"defaults": defaults} | gains)
    return out


def share_at(curve: dict[int, float], n: float) -> float | None:
    """The mean share of the bound at `n` rows, log-linear between measured sizes."""
    sizes = sorted(curve)
    if not sizes or n < sizes[0] or n > sizes[-1]:
        return None
    return float(np.interp(np.log(n), np.log(sizes), [curve[s] for s in sizes]))


def place(
    marks: list[dict[str, Any]], curves: dict[str, dict[int, float]], rate: float
) -> list[dict[str, Any]]:
    """Where each bank sits: rows like its loans, and rows holding as many defaults."""
    out = []
    for mark in marks:
        by_rows = mark["loans"] * TRAIN_SHARE
        by_defaults = mark["defaults"] * TRAIN_SHARE / rate
        placed = dict(mark) | {
            "train_rows": round(by_rows),
            "rows_with_as_many_defaults": round(by_defaults),
        }
        for way, curve in curves.items():
            at_rows, at_defaults = share_at(curve, by_rows), share_at(curve, by_defaults)
            placed[f"{way}_share_at_rows"] = None if at_rows is None else round(at_rows, 3)
            placed[f"{way}_share_at_defaults"] = (
                None if at_defaults is None else round(at_defaults, 3)
            )
        out.append(placed)
    return out


def parse_sizes(text: str, available: int, bound_given: bool) -> list[int]:
    """`2000,4000` -> those sizes below the available rows, and all of them (the bound) unless
    the bound is given."""
    sizes = {available if s == "all" else int(s) for s in text.split(",") if s}
    return sorted(
        {s for s in sizes if 0 < s <= available} | (set() if bound_given else {available})
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--sizes", default="2000,4000,8000,16000,32000,all")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--ways", default=",".join(WAYS))
    parser.add_argument(
        "--variants",
        default=None,
        help='correction parameters to compare, JSON: {"name": {"num_leaves": 8}, ...}',
    )
    parser.add_argument(
        "--bound", type=float, default=None, help="the bound (skips its full-data fit)"
    )
    parser.add_argument("--sim-report", type=Path, default=None)
    parser.add_argument(
        "--bank-shaped",
        action="store_true",
        help="with --sim-report: also fit unbiased samples with each round's bank counts",
    )
    parser.add_argument("--cache", type=Path, default=None)
    parser.add_argument("--per-date", type=int, default=6_000)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    started, cpu = time.perf_counter(), time.process_time()
    frame = hindsight_frame(args.store, args.per_date, args.seed, args.cache)
    cold_splits = time_split(frame)
    cold = fit(cold_splits, args.seed)
    splits = time_split(frame.assign(label=frame["outcome"]))
    test = splits["test"]
    y = test["label"].to_numpy()
    pd_cold = cold.predict_proba(test)
    auc_cold = metrics.auc(y, pd_cold)
    available = len(splits["train"]) + len(splits["valid"])
    sizes = parse_sizes(args.sizes, available, args.bound is not None)
    ways = ways_of(args)
    gains: dict[str, dict[int, list[float]]] = {w: {} for w in ways}
    paired: dict[str, dict[int, list[float]]] = {w: {} for w in gains}
    for n in sizes:
        for k in range(1 if n == available else args.seeds):
            rng = np.random.default_rng([args.seed, n, k])
            part = splits if n == available else subset(splits, n, rng)
            for way, params in ways.items():
                model = fit(part, args.seed, None if params is None else cold, params)
                pd_model = model.predict_proba(test)
                gains[way].setdefault(n, []).append(metrics.auc(y, pd_model) - auc_cold)
                if k == 0:
                    diff = paired_auc(y, pd_model, pd_cold, seed=args.seed)
                    paired[way][n] = [round(diff.low, 4), round(diff.high, 4)]
    bound = args.bound or gains["scratch"][available][0]
    rate = float(pd.concat([splits["train"], splits["valid"]])["label"].mean())
    curves = {
        way: {n: summarise(g, bound) | {"paired_ci95_first_seed": paired[way][n]}
              for n, g in by_n.items()}
        for way, by_n in gains.items()
    }  # fmt: skip
    shares = {w: {n: c["share_of_bound"] for n, c in by_n.items()} for w, by_n in curves.items()}
    out: dict[str, Any] = {
        "bench": "loop_learning_curve",
        "rows": len(frame),
        "train_valid_rows": available,
        "train_valid_outcome_rate": round(rate, 4),
        "test_rows": len(test),
        "test_outcome_rate": round(float(y.mean()), 4),
        "auc_cold_start": round(auc_cold, 4),
        "bound": round(bound, 4),
        "seeds": args.seeds,
        "curves": {
            w: [{"n": n, "expected_defaults": round(n * rate)} | c for n, c in by_n.items()]
            for w, by_n in curves.items()
        },
    }
    if args.sim_report is not None:
        marks = bank_marks(args.sim_report)
        out["banks"] = place(marks, shares, rate)
        if args.bank_shaped:
            out["bank_shaped"] = [
                {k: v for k, v in point.items() if k not in gains}
                | {w: summarise(point[w], bound) for w in gains}
                for point in bank_shaped(marks, splits, cold, ways, args)
            ]
    out |= {
        "seconds": round(time.perf_counter() - started, 1),
        "cpu_seconds": round(time.process_time() - cpu, 1),
    }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
