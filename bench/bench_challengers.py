"""Every retrained challenger of a simulation, promoted or not, against the cold-start model.

    python bench/bench_challengers.py --home HOME --report DIR [--bound B] [--seed 42]

The lending simulation scores only the model that serves a bank; a challenger the gate refused
never meets all applicants there. This bench does: for each retraining in DIR/report.json
(bank, round date, registered version), it loads the challenger from HOME's MLflow, computes
point-in-time features of every entity open on the round's date from HOME/platform.duckdb
(the same feature code as serving), draws each entity's 12-month outcome from its true PD
(seeded), and scores the challenger and the cold-start model (the platform champion) on those
rows: AUC of each, their difference with the seeded paired-bootstrap 95% interval
(`training.paired_auc`), the gain of the refreshed platform model it boosts from, alone (the
gain then splits into the refresh and the bank's corrections), the share of the hindsight bound (`--bound`, from
bench/bench_loop_headroom.py on the same store) and whether the gate promoted it. With
`--hindsight` it also fits the bound's hindsight model (`bench_loop_learning_curve.py`'s frame,
`--cache` to reuse it) and scores it on each round's rows: its gain over the simulation's
cold-start model there is the bound on the round's own population (`round_bound`), and each
challenger's gain a share of it. The rows are
out of time for the challenger: its loans were applied for 12 months or more before that date.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import pandas as pd
from bench_loop_learning_curve import fit, hindsight_frame

from catalog import store
from features.compute import compute
from models.preapproval import PreapprovalModel
from simulation.lending import open_entities
from synthetic.truth import attach_truth
from training import metrics, tracking
from training.dataset import time_split
from training.paired_auc import paired_auc


def retrainings(report: dict[str, Any]) -> list[dict[str, Any]]:
    """(bank, round, date, version, promoted) of every retraining that registered a model."""
    out = []
    for record in report["records"]:
        retrain = record.get("retrain") or {}
        if retrain.get("version"):
            out.append(
                {
                    "bank": record["bank"],
                    "round": record["round"],
                    "date": record["date"],
                    "version": str(retrain["version"]),
                    "promoted": retrain.get("promotion") in ("promoted", "promoted_by_approval"),
                    "gate_sample": (retrain.get("gate_sample") or "").split(":")[0],
                }
            )
    return out


def rows_on(con: store.Connection, day: dt.date, per_date: int, seed: int) -> pd.DataFrame:
    """Features of (a seeded sample of) entities open on `day`, a drawn outcome from the truth."""
    codes = open_entities(con, day)
    rng = np.random.default_rng(seed)
    if len(codes) > per_date:
        codes = sorted(rng.choice(codes, per_date, replace=False).tolist())
    pairs = pd.DataFrame({"uscc": codes, "as_of": pd.Timestamp(day)})
    frame = attach_truth(con, compute(con, pairs))
    frame = frame[frame["truth_pd"].notna()].reset_index(drop=True)
    outcome = rng.random(len(frame)) < frame["truth_pd"].to_numpy()
    return frame.assign(label=outcome.astype(np.int64))


def hindsight_model(args: argparse.Namespace) -> PreapprovalModel:
    """The bound's hindsight model (`bench_loop_headroom.py`: every frame row's drawn outcome)."""
    frame = hindsight_frame(args.home / "platform.duckdb", 6_000, args.seed, args.cache)
    return fit(time_split(frame.assign(label=frame["outcome"])), args.seed)


def round_bound(rows: pd.DataFrame, hindsight: PreapprovalModel, cold: PreapprovalModel) -> float:
    """The hindsight model's AUC gain over the simulation's cold-start model on these rows."""
    y = rows["label"].to_numpy()
    gain = metrics.auc(y, hindsight.predict_proba(rows)) - metrics.auc(y, cold.predict_proba(rows))
    return round(gain, 4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--report", type=Path, required=True)
    parser.add_argument("--bound", type=float, default=None)
    parser.add_argument("--per-date", type=int, default=8_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--hindsight",
        action="store_true",
        help="also score the bound's hindsight model on each round's rows (the round's bound)",
    )
    parser.add_argument("--cache", type=Path, default=None, help="hindsight frame cache (parquet)")
    args = parser.parse_args()
    started, cpu = time.perf_counter(), time.process_time()
    report = json.loads((args.report / "report.json").read_text())
    client = tracking.connect_client(f"sqlite:///{(args.home / 'mlflow.db').resolve()}")
    out: list[dict[str, Any]] = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        store.connect(args.home / "platform.duckdb", read_only=True) as con,
    ):
        cold_version = client.get_model_version(tracking.model_name("platform"), "1")
        cold = tracking.load_native(client, cold_version.run_id, Path(tmp) / "cold")
        hindsight = hindsight_model(args) if args.hindsight else None
        frames: dict[str, pd.DataFrame] = {}
        bounds: dict[str, float] = {}
        for item in retrainings(report):
            if item["date"] not in frames:
                day = dt.date.fromisoformat(item["date"])
                frames[item["date"]] = rows_on(con, day, args.per_date, args.seed)
                if hindsight is not None:
                    bounds[item["date"]] = round_bound(frames[item["date"]], hindsight, cold)
            rows = frames[item["date"]]
            version = client.get_model_version(tracking.model_name(item["bank"]), item["version"])
            model = tracking.load_native(
                client, version.run_id, Path(tmp) / f"{item['bank']}-{item['version']}"
            )
            y = rows["label"].to_numpy()
            pd_model, pd_cold = model.predict_proba(rows), cold.predict_proba(rows)
            diff = paired_auc(y, pd_model, pd_cold, seed=args.seed)
            # the refreshed platform model the corrections boost from, alone
            base_gain = (
                None
                if model.base is None
                else round(
                    metrics.auc(y, model.base.predict_proba(rows)) - metrics.auc(y, pd_cold), 4
                )
            )
            share = None if args.bound is None else round(diff.difference / args.bound, 3)
            out.append(
                item
                | {
                    "rows": len(rows),
                    "auc_challenger": round(metrics.auc(y, pd_model), 4),
                    "auc_cold_start": round(metrics.auc(y, pd_cold), 4),
                    "auc_gain": round(diff.difference, 4),
                    "auc_gain_base_alone": base_gain,
                    "ci95": [round(diff.low, 4), round(diff.high, 4)],
                    "share_of_bound": share,
                    "round_bound": bounds.get(item["date"]),
                    "share_of_round_bound": (
                        round(diff.difference / bounds[item["date"]], 3)
                        if item["date"] in bounds
                        else None
                    ),
                    "significant_loss": diff.high < 0,
                    "mean_pd_challenger": round(float(pd_model.mean()), 4),
                    "mean_pd_cold_start": round(float(pd_cold.mean()), 4),
                    "outcome_rate": round(float(y.mean()), 4),
                }
            )
    gains = [r["auc_gain"] for r in out]
    promoted = [r["auc_gain"] for r in out if r["promoted"]]
    result = {
        "bench": "challengers",
        "bound": args.bound,
        "retrainings": len(out),
        "promoted": len(promoted),
        "mean_gain_all": round(float(np.mean(gains)), 4) if gains else None,
        "mean_gain_promoted": round(float(np.mean(promoted)), 4) if promoted else None,
        "significant_losses": sum(r["significant_loss"] for r in out),
        "challengers": out,
        "seconds": round(time.perf_counter() - started, 1),
        "cpu_seconds": round(time.process_time() - cpu, 1),
    }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
