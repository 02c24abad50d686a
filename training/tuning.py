"""Monotone LightGBM tuned for the table it learns: Optuna's seeded TPE in a size-scaled space.

Directions come from the registry where it declares one; elsewhere from the WoE trend of an
optimal binning (optbinning, trend "auto"): a numeric feature whose binned bad rate rises
(falls) with the bin order, rank correlation at least 0.8, is constrained increasing
(decreasing); a peaked, flat or categorical one is left free.
The search space shrinks with the table: a few hundred rows get few leaves, many rows per leaf
and a strong L2 penalty. The budget is a number of trials and a number of seconds; with the
seconds not reached, the same data and seed give the same trials and the same model.
"""

from __future__ import annotations

import logging
import math
import warnings
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

import lightgbm as lgb
import numpy as np
import optuna
import pandas as pd
from optbinning import OptimalBinning
from scipy.stats import spearmanr

from models.pd_model import DEFAULT_PARAMS, FeatureSpec
from training import metrics
from training.metrics import IntArray

FIXED_PARAMS: dict[str, Any] = {
    key: DEFAULT_PARAMS[key]
    for key in ("objective", "monotone_constraints_method", "deterministic", "force_row_wise")
} | {"verbosity": -1, "subsample_freq": 1}
ONE_THREAD_ROWS = 50_000  # below: one thread (a second one waits more than it works on 2 cores)
MAX_ROUNDS, PATIENCE = 2000, 50
MIN_TREND_ROWS = 100  # fewer rows: no direction is inferred, the feature stays free
MIN_TREND_RHO = 0.8  # rank correlation of bin order and bad rate needed to constrain

optuna.logging.set_verbosity(optuna.logging.WARNING)
log = logging.getLogger(__name__)


class Labelled(NamedTuple):
    """The rows a model learns from: features, 0/1 labels, and what the features are."""

    X: pd.DataFrame
    y: IntArray
    spec: FeatureSpec


@dataclass(frozen=True)
class Budget:
    """How much search the selection may spend: Optuna trials, seconds, inner folds."""

    trials: int = 25
    seconds: float = 120.0
    inner_folds: int = 3


@dataclass(frozen=True)
class Tuned:
    """The tuned LightGBM: parameters (with monotone constraints) and its holdout evidence."""

    params: dict[str, Any]
    rounds: int  # early-stopped on the holdout, for a fit on the holdout's fit rows
    holdout_auc: float
    trials: int

    def rounds_for(self, n_rows: int, n_fit: int) -> int:
        """Rounds for a fit on `n_rows` rows: more data, proportionally more rounds."""
        return max(1, math.ceil(self.rounds * n_rows / max(n_fit, 1)))


def trend_direction(values: np.ndarray, y: IntArray) -> int:
    """+1 when the binned bad rate rises with the value, -1 when it falls, else 0."""
    present = ~np.isnan(values)
    if present.sum() < MIN_TREND_ROWS or np.unique(values[present]).size < 2:
        return 0
    binning = OptimalBinning(monotonic_trend="auto", min_bin_size=0.05)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        binning.fit(values[present], y[present])
    edges = np.asarray(binning.splits, dtype=np.float64)
    if edges.size == 0:
        return 0
    bins = np.digitize(values[present], edges)
    rates = np.array([y[present][bins == b].mean() for b in np.unique(bins)])
    if rates.size == 2:
        return int(np.sign(rates[1] - rates[0]))
    rho = float(spearmanr(np.arange(rates.size), rates).statistic)
    return int(np.sign(rho)) if abs(rho) >= MIN_TREND_RHO else 0


def infer_monotone(X: pd.DataFrame, y: IntArray, spec: FeatureSpec) -> FeatureSpec:
    """The spec with a direction for every numeric feature the registry left at 0."""
    directions = []
    for name, declared in zip(spec.names, spec.monotone, strict=True):
        if declared != 0 or name in spec.categorical:
            directions.append(declared)
            continue
        directions.append(trend_direction(X[name].to_numpy(dtype=np.float64), y))
    return replace(spec, monotone=tuple(directions))


def suggest(trial: optuna.Trial | optuna.trial.FixedTrial, n_rows: int) -> dict[str, Any]:
    """One point of the search space; bounds scale with the number of training rows."""
    leaves_max = int(np.clip(n_rows / 100, 8, 63))
    child_min = int(np.clip(n_rows / 500, 10, 200))
    child_max = int(np.clip(n_rows / 25, 40, 2000))
    lambda_min = 1.0 if n_rows < 5000 else 1e-2
    return {
        "num_leaves": trial.suggest_int("num_leaves", 2, leaves_max, log=True),
        "max_depth": trial.suggest_int("max_depth", 2, 6),
        "min_child_samples": trial.suggest_int("min_child_samples", child_min, child_max, log=True),
        "learning_rate": trial.suggest_float("learning_rate", 0.02, 0.15, log=True),
        "reg_lambda": trial.suggest_float("reg_lambda", lambda_min, 100.0, log=True),
        "subsample": trial.suggest_float("subsample", 0.6, 1.0),
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.5, 1.0),
        "cat_smooth": trial.suggest_float("cat_smooth", 1.0, 100.0, log=True),
    }


def matrix(X: pd.DataFrame, spec: FeatureSpec) -> np.ndarray:
    """The spec's columns in order as float64."""
    return np.ascontiguousarray(X.loc[:, list(spec.names)].to_numpy(dtype=np.float64))


def dataset(X: pd.DataFrame, y: IntArray | None, spec: FeatureSpec) -> lgb.Dataset:
    """A LightGBM dataset in spec order with the spec's categorical columns."""
    return lgb.Dataset(
        matrix(X, spec),
        label=None if y is None else y.astype(np.float64),
        feature_name=list(spec.names),
        categorical_feature=list(spec.categorical),
        free_raw_data=False,
        params={"verbosity": -1},
    )


def full_params(shape: dict[str, Any], spec: FeatureSpec, seed: int, n_rows: int) -> dict[str, Any]:
    """Tuned shape + fixed settings + the spec's monotone constraints, the seed and threads."""
    threads = 1 if n_rows < ONE_THREAD_ROWS else 2
    fixed = {"seed": seed, "monotone_constraints": list(spec.monotone), "num_threads": threads}
    return FIXED_PARAMS | shape | fixed


def _holdout_fit(
    params: dict[str, Any],
    X: pd.DataFrame,
    y: IntArray,
    spec: FeatureSpec,
    split: tuple[np.ndarray, np.ndarray],
) -> tuple[float, int]:
    """AUC on the holdout rows and the early-stopped number of rounds."""
    train, valid = split
    fit_set = dataset(X.iloc[train], y[train], spec)
    valid_set = dataset(X.iloc[valid], y[valid], spec)
    valid_set.reference = fit_set
    booster = lgb.train(
        params | {"metric": "auc"},
        fit_set,
        num_boost_round=MAX_ROUNDS,
        valid_sets=[valid_set],
        callbacks=[lgb.early_stopping(PATIENCE, verbose=False)],
    )
    rounds = int(booster.best_iteration or MAX_ROUNDS)
    score = booster.predict(matrix(X.iloc[valid], spec), num_iteration=rounds)
    return metrics.auc(y[valid], score), rounds


def tune(data: Labelled, split: tuple[np.ndarray, np.ndarray], budget: Budget, seed: int) -> Tuned:
    """Search the shape on one inner split (fit rows, holdout rows) with seeded TPE."""
    X, y, spec = data
    n_fit = int(split[0].size)
    rounds: dict[int, int] = {}

    def objective(trial: optuna.Trial) -> float:
        params = full_params(suggest(trial, n_fit), spec, seed, n_fit)
        auc, rounds[trial.number] = _holdout_fit(params, X, y, spec, split)
        return auc

    sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=min(8, budget.trials))
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.enqueue_trial(_prior(n_fit))  # the first trial is a sensible shape, not a random one
    study.optimize(objective, n_trials=budget.trials, timeout=budget.seconds)
    best = study.best_trial
    shape = suggest(optuna.trial.FixedTrial(best.params), n_fit)
    log.info("tuned %s in %d trials: holdout AUC %.4f", shape, len(study.trials), best.value)
    return Tuned(
        full_params(shape, spec, seed, y.size),
        rounds[best.number],
        float(best.value or 0.0),
        len(study.trials),
    )


def _prior(n_rows: int) -> dict[str, Any]:
    """A conservative first trial inside the space: few leaves, many rows per leaf."""
    return {
        "num_leaves": int(np.clip(n_rows / 1000, 2, 15)),
        "max_depth": 3,
        "min_child_samples": int(np.clip(n_rows / 100, 10, 500)),
        "learning_rate": 0.05,
        "reg_lambda": 10.0,
        "subsample": 0.8,
        "colsample_bytree": 0.8,
        "cat_smooth": 10.0,
    }


def fit_booster(
    X: pd.DataFrame, y: IntArray, spec: FeatureSpec, params: dict[str, Any], rounds: int
) -> lgb.Booster:
    """Train a booster for a fixed number of rounds (no early stopping: nothing is held out)."""
    return lgb.train(params, dataset(X, y, spec), num_boost_round=rounds)
