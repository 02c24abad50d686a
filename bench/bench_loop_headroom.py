"""How much discrimination can retraining on loan outcomes add, at most, on these features?

    python bench/bench_loop_headroom.py --store PATH [--per-date 6000] [--seed 42]

On the synthetic platform every entity has a true 12-month PD, so one can draw the loan outcome
of *every* entity at every observation date (hindsight: no bank sees outcomes of applicants it
declined). The same out-of-time split and LightGBM set-up then train two models on the same
rows and features, one on the cold-start label (adverse public events), one on the hindsight
loan outcomes, and all are scored on the same test rows against the drawn outcomes:

- `cold_start_label`: what the platform model knows without any bank;
- `hindsight_outcomes`: the best a bank's outcomes could teach with unlimited, unselected loans;
- `true_pd`: the ceiling of any model (information the public records do not carry included).

The gap between the first two bounds what the lending loop can add to AUC on these features;
the gap to the third is information missing from the public records. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from catalog import store
from training import metrics
from training.pipeline import PipelineConfig, build_frame
from training.train import TrainConfig, train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--per-date", type=int, default=6_000)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    started = time.perf_counter()
    config = PipelineConfig(
        args.store, "sqlite://", Path("."), seed=args.seed, per_date=args.per_date
    )
    with store.connect(args.store, read_only=True) as con:
        frame = build_frame(con, "platform", "platform", config)
    frame = frame[frame["truth_pd"].notna()].reset_index(drop=True)
    rng = np.random.default_rng(args.seed)
    outcome = (rng.random(len(frame)) < frame["truth_pd"].to_numpy()).astype(np.int64)
    labelled = {"cold_start_label": frame, "hindsight_outcomes": frame.assign(label=outcome)}
    fits = {
        name: train(data, config=TrainConfig(seed=args.seed)) for name, data in labelled.items()
    }
    test = fits["hindsight_outcomes"].splits["test"]  # same rows as the other fit's test split
    y = test["label"].to_numpy()
    auc = {name: metrics.auc(y, fit.model.predict_proba(test)) for name, fit in fits.items()}
    auc["true_pd"] = metrics.auc(y, test["truth_pd"].to_numpy())
    print(
        json.dumps(
            {
                "bench": "loop_headroom",
                "rows": len(frame),
                "test_rows": len(test),
                "test_outcome_rate": round(float(y.mean()), 4),
                "auc_on_drawn_outcomes": {k: round(v, 4) for k, v in auc.items()},
                "max_gain_from_outcomes": round(
                    auc["hindsight_outcomes"] - auc["cold_start_label"], 4
                ),
                "information_outside_public_records": round(
                    auc["true_pd"] - auc["hindsight_outcomes"], 4
                ),
                "seconds": round(time.perf_counter() - started, 1),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
