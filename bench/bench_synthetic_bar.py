"""Issue 13's synthetic bar: the platform model against the scorecard and the hindsight bound.

    nice .venv/bin/python bench/bench_synthetic_bar.py --entities 20000 --seeds 42 7 11 \
        [--cache DIR] [--per-date 6000]

For each generator seed a synthetic platform of that size is generated (or reused from
`--cache`), the cold-start frame is built as `precredit train --label platform` builds it, split
out of time (oldest 60% of dates train, next 20% valid, newest 20% test), and on the same test
rows it reports the AUC of: precredit (`training.train.train`: the tuned shape), the former fixed
shape (15 leaves, depth 4), the WoE scorecard, logistic regression, LightGBM with default
settings, and the hindsight bound: the generator's latent health at the observation date and its
true 12-month PD (truth tables: evaluation only, never a feature). ECE with its 95% bootstrap
interval and the ECE a perfectly calibrated PD would exceed 5% of the time on these rows
(`ece_noise`), the margin over the scorecard with its paired-bootstrap 95% interval (both
scored on each resample of the test rows), the training rows each model saw, the base rates of the valid and test splits, and the ECE of the health bound
calibrated on the valid split (logistic on health), and of the generator's true PD calibrated
exactly like the model (`like_model`): how much of the ECE no model of the present state can
remove. Seconds: shape selection and the whole `train`, plus
one-row TreeSHAP of the tuned and the fixed shape. Prints one JSON line per store.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from catalog import store
from models import calibration
from models.preapproval import MIN_LEVEL_BADS, PreapprovalModel, newest_period
from synthetic.config import SynthConfig
from synthetic.generate import generate
from training import comparison, metrics
from training.paired_auc import paired_auc
from training.pipeline import PipelineConfig, build_frame
from training.train import TrainConfig, spec_from_registry, train


def platform(entities: int, seed: int, cache: Path) -> Path:
    """The generated store for (entities, seed), generated once into the cache."""
    path = cache / f"platform_{entities}_{seed}.duckdb"
    if not path.exists():
        cache.mkdir(parents=True, exist_ok=True)
        generate(path, SynthConfig(entities=entities, seed=seed))
    return path


def frame_with_health(path: Path, per_date: int) -> pd.DataFrame:
    """The cold-start frame with the generator's health at each observation (evaluation only)."""
    config = PipelineConfig(path, "sqlite://", Path(tempfile.gettempdir()), per_date=per_date)
    with store.connect(path, read_only=True) as con:
        frame = build_frame(con, "platform", "platform", config)
        con.register("_keys", frame[["uscc", "as_of"]].assign(_row=np.arange(len(frame))))
        health = con.execute("""
            SELECT k._row, t.health FROM _keys k LEFT JOIN truth_monthly t ON t.uscc = k.uscc
              AND t.month = date_trunc('month', CAST(k.as_of AS DATE))
            QUALIFY row_number() OVER (PARTITION BY k._row ORDER BY t.health) = 1 ORDER BY k._row
        """).df()
    return frame.assign(truth_health=health["health"].to_numpy())


def shap_ms(model: PreapprovalModel, row: np.ndarray, repeats: int = 300) -> float:
    """Median-free mean one-row TreeSHAP time in milliseconds."""
    model.contributions(row)
    started = time.perf_counter()
    for _ in range(repeats):
        model.contributions(row)
    return (time.perf_counter() - started) / repeats * 1000


def baselines(train_: pd.DataFrame, test: pd.DataFrame, seed: int) -> dict[str, np.ndarray]:
    """Logistic regression and default LightGBM fitted on the training rows, scored on test."""
    spec = spec_from_registry()
    names, y = list(spec.names), train_["label"].to_numpy()
    logistic = comparison.logistic_baseline(spec).fit(train_[names], y)
    default = lgb.LGBMClassifier(random_state=seed, n_jobs=1, verbose=-1)
    default.fit(train_[names], y, categorical_feature=list(spec.categorical))
    return {
        "logistic": np.asarray(logistic.predict_proba(test[names]))[:, 1],
        "lightgbm_default": np.asarray(default.predict_proba(test[names]))[:, 1],
    }


def hindsight(splits: dict[str, pd.DataFrame]) -> dict[str, float]:
    """AUC of the true health and PD on the test rows; ECE of health calibrated on valid."""
    test, valid = splits["test"], splits["valid"]
    y = test["label"].to_numpy()

    def design(part: pd.DataFrame) -> np.ndarray:
        h = part["truth_health"].fillna(part["truth_health"].median()).to_numpy()
        return np.c_[h, h**2]

    bound = LogisticRegression().fit(design(valid), valid["label"].to_numpy())
    pd_bound = bound.predict_proba(design(test))[:, 1]
    out = {
        "auc_health": metrics.auc(y, pd_bound),
        "ece_health_valid_calibrated": metrics.ece(y, pd_bound),
    }
    if test["truth_pd"].notna().all() and valid["truth_pd"].notna().all():
        out["auc_truth_pd"] = metrics.auc(y, test["truth_pd"].to_numpy())
        out["ece_truth_pd_calibrated_like_model"] = metrics.ece(y, like_model(valid, test))
    return out


def like_model(valid: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
    """The generator's true PD through the model's own calibration, fitted on the valid split.

    Its log-odds are the raw score: isotonic or Platt chosen out of fold, the level of the newest
    validation date (`PreapprovalModel.fit`). Its ECE on test is what a model that knew every
    entity's present health exactly would score: the part of the ECE that is the future's.
    """

    def log_odds(part: pd.DataFrame) -> np.ndarray:
        p = np.clip(part["truth_pd"].to_numpy(dtype=float), 1e-6, 1 - 1e-6)
        return np.log(p / (1 - p))

    raw, y = log_odds(valid), valid["label"].to_numpy()
    fitted, _ = calibration.choose(raw, y, 42)
    newest = newest_period(valid)
    if newest is not None and int(y[newest].sum()) >= MIN_LEVEL_BADS:
        fitted = calibration.level(fitted, raw[newest], y[newest])
    return fitted(log_odds(test))


def measure(path: Path, per_date: int, seed: int) -> dict[str, Any]:
    """Every figure for one store."""
    frame = frame_with_health(path, per_date)
    started = time.perf_counter()
    result = train(frame, config=TrainConfig(seed=seed))
    train_s = time.perf_counter() - started
    splits, model = result.splits, result.model
    fixed = PreapprovalModel(model.spec, seed=seed)
    fixed.fit(
        splits["train"],
        splits["train"]["label"].to_numpy(),
        splits["valid"],
        splits["valid"]["label"].to_numpy(),
    )
    test = splits["test"]
    y, pd_model, pd_fixed = (
        test["label"].to_numpy(),
        model.predict_proba(test),
        fixed.predict_proba(test),
    )
    others = baselines(splits["train"], test, seed)
    row = model.classifier_.matrix(test.iloc[:1])
    m = result.metrics
    auc = {
        "precredit": m["auc"],
        "fixed_shape": metrics.auc(y, pd_fixed),
        "scorecard": m["auc_scorecard"],
        "logistic": metrics.auc(y, others["logistic"]),
        "lightgbm_default": metrics.auc(y, others["lightgbm_default"]),
    }
    bound = hindsight(splits)
    assert result.scorecard is not None  # `train` fits it beside the model (`evaluate`)
    card = result.scorecard.predict_proba(test[list(model.spec.names)])
    margin = paired_auc(y, pd_model, card, seed=seed)
    return {
        "store": path.name,
        "rows": len(frame),
        "train_rows": int(m["n_train"]),  # precredit and the scorecard fit the same rows
        "test_rows": len(test),
        "auc": auc | {k: v for k, v in bound.items() if k.startswith("auc")},
        "margin_over_scorecard": auc["precredit"] - auc["scorecard"],
        "margin_ci95": [margin.low, margin.high],
        "bound_minus_scorecard": bound.get("auc_truth_pd", bound["auc_health"]) - auc["scorecard"],
        "ece": m["ece"],
        "ece_ci95": comparison.ece_interval(y, pd_model, seed),
        "ece_fixed_shape": metrics.ece(y, pd_fixed),
        "ece_noise95": metrics.ece_noise(pd_model),
        "ece_health_valid_calibrated": bound["ece_health_valid_calibrated"],
        "ece_truth_pd_calibrated_like_model": bound.get("ece_truth_pd_calibrated_like_model"),
        "bad_rate": {"valid": float(splits["valid"]["label"].mean()), "test": float(y.mean())},
        "mean_pd_test": float(pd_model.mean()),
        "calibrator": model.calibrator_.method,
        "shape": model.meta_.get("shape"),
        "trees": {
            "precredit": model.classifier_.best_iteration_,
            "fixed_shape": fixed.classifier_.best_iteration_,
        },
        "seconds": {"shape_selection": m.get("shape_seconds"), "train_total": round(train_s, 1)},
        "shap_one_row_ms": {"precredit": shap_ms(model, row), "fixed_shape": shap_ms(fixed, row)},
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entities", type=int, default=20_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 7, 11])
    parser.add_argument("--per-date", type=int, default=6_000)
    parser.add_argument(
        "--cache", type=Path, default=Path.home() / ".cache/precredit/synthetic_bar"
    )
    args = parser.parse_args()
    for seed in args.seeds:
        path = platform(args.entities, seed, args.cache)
        out = measure(path, args.per_date, 42)
        print(
            json.dumps(
                {"bench": "synthetic_bar", "entities": args.entities, "generator_seed": seed} | out
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
