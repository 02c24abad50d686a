"""Every retrained challenger of a simulation, promoted or not, against the cold-start model.

    python bench/bench_challengers.py --home HOME --report DIR [--bound B] [--seed 42]

The lending simulation scores only the model that serves a bank; a challenger the gate refused
never meets all applicants there. This bench does: for each retraining in DIR/report.json
(bank, round date, registered version), it loads the challenger from HOME's MLflow, computes
point-in-time features of every entity open on the round's date from HOME/platform.duckdb
(the same feature code as serving), draws each entity's 12-month outcome from its true PD
(seeded), and scores the challenger and the cold-start model (the platform champion) on those
rows: AUC of each, their difference with the seeded paired-bootstrap 95% interval
(`training.paired_auc`), the share of the hindsight bound (`--bound`, from
bench/bench_loop_headroom.py on the same store) and whether the gate promoted it. The rows are
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

from catalog import store
from features.compute import compute
from simulation.lending import open_entities
from synthetic.truth import attach_truth
from training import metrics, tracking
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--report", type=Path, required=True)
    parser.add_argument("--bound", type=float, default=None)
    parser.add_argument("--per-date", type=int, default=8_000)
    parser.add_argument("--seed", type=int, default=42)
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
        frames: dict[str, pd.DataFrame] = {}
        for item in retrainings(report):
            if item["date"] not in frames:
                day = dt.date.fromisoformat(item["date"])
                frames[item["date"]] = rows_on(con, day, args.per_date, args.seed)
            rows = frames[item["date"]]
            version = client.get_model_version(tracking.model_name(item["bank"]), item["version"])
            model = tracking.load_native(
                client, version.run_id, Path(tmp) / f"{item['bank']}-{item['version']}"
            )
            y = rows["label"].to_numpy()
            pd_model, pd_cold = model.predict_proba(rows), cold.predict_proba(rows)
            diff = paired_auc(y, pd_model, pd_cold, seed=args.seed)
            share = None if args.bound is None else round(diff.difference / args.bound, 3)
            out.append(
                item
                | {
                    "rows": len(rows),
                    "auc_challenger": round(metrics.auc(y, pd_model), 4),
                    "auc_cold_start": round(metrics.auc(y, pd_cold), 4),
                    "auc_gain": round(diff.difference, 4),
                    "ci95": [round(diff.low, 4), round(diff.high, 4)],
                    "share_of_bound": share,
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
