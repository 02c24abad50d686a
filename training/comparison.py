"""precredit's selected model against the baselines a bank already has, on the same rows.

Baselines: the WoE scorecard (optbinning + logistic), logistic regression on median-imputed,
standardised numbers and one-hot categories, and LightGBM with its default settings. Every
method is fitted on the same training rows and scored on the same test rows; `cross_validate`
repeats that over seeded stratified folds. Only the training rows reach `selection.select`.
"""

from __future__ import annotations

import time as clock
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from models.pd_model import FeatureSpec
from training import metrics, selection
from training.baselines import Scorecard, fit_scorecard
from training.metrics import FloatArray, IntArray
from training.tuning import Budget, Labelled

BASELINES = ("scorecard", "logistic", "lightgbm_default")
RESAMPLES = 200


def logistic_baseline(spec: FeatureSpec) -> Pipeline:
    """Median-imputed, standardised numbers and one-hot categories into a logistic regression."""
    numeric = [name for name in spec.names if name not in spec.categorical]
    scaled = make_pipeline(SimpleImputer(strategy="median"), StandardScaler())
    one_hot = OneHotEncoder(handle_unknown="ignore")
    columns = [("numeric", scaled, numeric), ("categorical", one_hot, list(spec.categorical))]
    return make_pipeline(ColumnTransformer(columns), LogisticRegression(max_iter=1000))


def ece_interval(y: IntArray, pd_: FloatArray, seed: int) -> tuple[float, float]:
    """95% bootstrap interval (200 seeded resamples of the rows) of the ECE."""
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(RESAMPLES):
        rows = rng.integers(0, y.size, y.size)
        if 0 < y[rows].sum() < y.size:
            values.append(metrics.ece(y[rows], pd_[rows]))
    low, high = np.percentile(values, [2.5, 97.5])
    return float(low), float(high)


def baseline_scores(
    data: Labelled, test: pd.DataFrame, seed: int, card: Scorecard | None = None
) -> dict[str, FloatArray]:
    """Each baseline fitted on `data`, scored on `test`; `card`: the scorecard already so fitted."""
    X, y, spec = data
    card = card or fit_scorecard(X, y, spec.categorical, seed=seed)
    logistic = logistic_baseline(spec).fit(X[list(spec.names)], y)
    default = lgb.LGBMClassifier(random_state=seed, n_jobs=1, verbose=-1)
    default.fit(X[list(spec.names)], y, categorical_feature=list(spec.categorical) or "auto")
    return {
        "scorecard": card.predict_proba(test),
        "logistic": np.asarray(logistic.predict_proba(test[list(spec.names)]))[:, 1],
        "lightgbm_default": np.asarray(default.predict_proba(test[list(spec.names)]))[:, 1],
    }


def score_split(
    data: Labelled,
    rows: tuple[np.ndarray, np.ndarray],
    time: pd.Series | None = None,
    budget: Budget | None = None,
    seed: int = 42,
) -> dict[str, Any]:
    """Fit everything on the train rows, report test AUCs, precredit's test metrics and choice."""
    (X, _, spec), (train, test) = data, rows
    started, y = clock.perf_counter(), metrics.as_labels(data.y)
    inner_time = None if time is None else time.iloc[train]
    seen = Labelled(X.iloc[train], y[train], spec)
    model = selection.select(seen, inner_time, budget, seed)
    seconds = clock.perf_counter() - started
    pd_ = model.predict_proba(X.iloc[test])
    out: dict[str, Any] = {
        k: float(v) for k, v in metrics.summary(y[test], pd_).items() if k != "n_rows"
    }
    out["ece_ci95"] = list(ece_interval(y[test], pd_, seed))
    card = model.scorecard  # fitted on the same rows with the same seed: the same baseline
    baselines = baseline_scores(seen, X.iloc[test], seed, card)
    for name, score in baselines.items():
        out[f"auc_{name}"] = metrics.auc(y[test], score)
    best = max(BASELINES, key=lambda name: out[f"auc_{name}"])
    out |= {"best_baseline": best, "margin": out["auc"] - out[f"auc_{best}"]}
    return out | {"seconds_precredit": seconds, "model": model.describe(), "_model": model}


def folds(y: IntArray, n_folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Seeded stratified folds: (train rows, test rows)."""
    splitter = StratifiedKFold(n_folds, shuffle=True, random_state=seed)
    return [(np.asarray(a), np.asarray(b)) for a, b in splitter.split(np.zeros(y.size), y)]


def summarise(per_fold: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean over folds of every AUC, ECE and time; the margin against the best mean baseline."""
    keys = ["auc", *(f"auc_{name}" for name in BASELINES), "ece", "brier", "seconds_precredit"]
    out: dict[str, Any] = {k: float(np.mean([fold[k] for fold in per_fold])) for k in keys}
    out["auc_std"] = float(np.std([fold["auc"] for fold in per_fold], ddof=1))
    best = max(BASELINES, key=lambda name: out[f"auc_{name}"])
    out |= {"best_baseline": best, "margin": out["auc"] - out[f"auc_{best}"]}
    out["chosen"] = [fold["model"]["chosen"] for fold in per_fold]
    out["beats_best_baseline"] = out["margin"] >= 0.0
    return out


def cross_validate(
    data: Labelled, n_folds: int = 5, budget: Budget | None = None, seed: int = 42
) -> dict[str, Any]:
    """`score_split` on each seeded stratified fold, and the summary over folds."""
    per_fold = [
        score_split(data, rows, budget=budget, seed=seed) for rows in folds(data.y, n_folds, seed)
    ]
    for fold in per_fold:
        fold.pop("_model")
    return summarise(per_fold) | {"folds": per_fold}
