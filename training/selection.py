"""Choose the PD model by nested out-of-sample evidence: tuned LightGBM, WoE scorecard, or a blend.

`select` sees only the rows it is given (an outer training fold): it tunes LightGBM on an inner
holdout, then scores every candidate out of fold on inner splits (stratified k-fold, or with a
time column one out-of-time split: oldest 75% fit, newest 25% held out). The candidates are the
log-odds blend w * LightGBM + (1 - w) * scorecard for w in 0, 0.1, ..., 1: w = 0 is the WoE
scorecard, w = 1 the monotone LightGBM, the best interior w the blend. The winner by mean
inner AUC is refitted on every given row and calibrated (isotonic or Platt, chosen on the
out-of-fold scores). Same rows, same seed, same budget (seconds not reached): same model.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold

from models import calibration
from models.pd_model import FeatureSpec
from training import metrics, tuning
from training.baselines import Scorecard, fit_scorecard
from training.metrics import FloatArray, IntArray
from training.tuning import Budget, Labelled

WEIGHTS = tuple(round(0.1 * step, 1) for step in range(11))  # LightGBM's share of the log-odds
OUT_OF_TIME_SHARE = 0.25
# Isotonic calibration is a step function: rows in one step share a PD and lose the model's
# ranking (AUC falls). A PD shift of at most 1e-7 (increasing in the log-odds) restores it.
TIE_BREAK = 1e-7
Split = tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True)
class Evidence:
    """Inner out-of-fold AUC per candidate and the blend weight each stands for."""

    auc: dict[str, float]
    weight: dict[str, float]
    chosen: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready evidence."""
        return {"inner_auc": self.auc, "weight_lightgbm": self.weight, "chosen": self.chosen}


@dataclass(eq=False)
class SelectedModel:
    """The chosen model refitted on all given rows: PD = calibrator(w * lgbm + (1 - w) * card)."""

    spec: FeatureSpec
    weight: float
    calibrator: calibration.Calibrator
    evidence: Evidence
    tuned: tuning.Tuned
    booster: lgb.Booster | None = None
    scorecard: Scorecard | None = None
    inner: dict[str, Any] = field(default_factory=dict)

    @property
    def chosen(self) -> str:
        """Name of the chosen candidate: lightgbm, scorecard or blend."""
        return self.evidence.chosen

    def log_odds(self, X: pd.DataFrame) -> FloatArray:
        """Blended raw log-odds before calibration."""
        out = np.zeros(len(X), dtype=np.float64)
        if self.booster is not None:
            raw = self.booster.predict(tuning.matrix(X, self.spec), raw_score=True)
            out += self.weight * np.asarray(raw, dtype=np.float64)
        if self.scorecard is not None:
            out += (1.0 - self.weight) * self.scorecard.log_odds(X)
        return out

    def predict_proba(self, X: pd.DataFrame) -> FloatArray:
        """Calibrated PD per row (1-D); within a flat isotonic step the model's order is kept."""
        z = self.log_odds(X)
        calibrated = np.asarray(self.calibrator(z), dtype=np.float64)
        return calibrated + TIE_BREAK * (1.0 / (1.0 + np.exp(-np.clip(z, -30.0, 30.0))))

    def fingerprint(self) -> str:
        """SHA-256 of everything that decides a prediction (trees, scorecard, weight, calibrator)."""
        digest = hashlib.sha256(json.dumps(self.describe(), sort_keys=True).encode())
        if self.booster is not None:
            digest.update(self.booster.model_to_string().encode())
        if self.scorecard is not None:
            digest.update(self.scorecard.model.coef_.tobytes())
            digest.update(self.scorecard.model.intercept_.tobytes())
        return digest.hexdigest()

    def describe(self) -> dict[str, Any]:
        """JSON-ready summary: candidates, choice, tuned shape, calibration, monotone directions."""
        shape = {k: v for k, v in self.tuned.params.items() if k != "monotone_constraints"}
        directions = dict(zip(self.spec.names, self.spec.monotone, strict=True))
        return self.evidence.to_dict() | {
            "weight": self.weight,
            "calibration": self.calibrator.method,
            "lightgbm_params": shape,
            "lightgbm_rounds": self.tuned.rounds,
            "tuning_trials": self.tuned.trials,
            "monotone": {name: d for name, d in directions.items() if d != 0},
        }


def inner_splits(y: IntArray, time: pd.Series | None, folds: int, seed: int) -> list[Split]:
    """Stratified k-fold (fit, held-out) splits; with dates one split, newest 25% held out."""
    if time is not None:
        cut = time.quantile(1.0 - OUT_OF_TIME_SHARE)
        older, newer = np.flatnonzero(time <= cut), np.flatnonzero(time > cut)
        if np.unique(y[newer]).size == 2 and np.unique(y[older]).size == 2:
            return [(older, newer)]
    splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
    return [(np.asarray(a), np.asarray(b)) for a, b in splitter.split(np.zeros(y.size), y)]


def _out_of_fold(
    X: pd.DataFrame, y: IntArray, spec: FeatureSpec, splits: list[Split], tuned: tuning.Tuned
) -> tuple[FloatArray, FloatArray]:
    """Held-out log-odds of LightGBM and of the scorecard (NaN on rows never held out)."""
    lgbm, card = np.full(y.size, np.nan), np.full(y.size, np.nan)
    for fit, held in splits:
        rows = X.iloc[fit]
        rounds = tuned.rounds_for(fit.size, splits[0][0].size)
        booster = tuning.fit_booster(rows, y[fit], spec, tuned.params, rounds)
        lgbm[held] = booster.predict(tuning.matrix(X.iloc[held], spec), raw_score=True)
        scorecard = fit_scorecard(rows, y[fit], spec.categorical, seed=tuned.params["seed"])
        card[held] = scorecard.log_odds(X.iloc[held])
    return lgbm, card


def _blend_auc(
    y: IntArray, lgbm: FloatArray, card: FloatArray, splits: list[Split], weight: float
) -> float:
    """Mean over held-out parts of the AUC of the blended log-odds."""
    scores = [
        metrics.auc(y[held], weight * lgbm[held] + (1.0 - weight) * card[held])
        for _, held in splits
    ]
    return float(np.mean(scores))


def weigh(y: IntArray, lgbm: FloatArray, card: FloatArray, splits: list[Split]) -> Evidence:
    """Inner AUC of scorecard (w=0), LightGBM (w=1) and the best interior blend; the winner."""
    aucs = {w: _blend_auc(y, lgbm, card, splits, w) for w in WEIGHTS}
    interior = max(WEIGHTS[1:-1], key=lambda w: (aucs[w], -abs(w - 0.5)))
    weight = {"scorecard": 0.0, "blend": interior, "lightgbm": 1.0}
    auc = {name: aucs[w] for name, w in weight.items()}
    chosen = max(weight, key=lambda name: auc[name])  # ties go to the simpler, listed first
    return Evidence(auc, weight, chosen)


def select(
    data: Labelled, time: pd.Series | None = None, budget: Budget | None = None, seed: int = 42
) -> SelectedModel:
    """Tune, compare candidates out of fold, refit the winner on all rows, calibrate it."""
    budget = budget or Budget()
    X, y, spec = data.X.reset_index(drop=True), np.asarray(data.y, dtype=np.int64), data.spec
    time = None if time is None else time.reset_index(drop=True)
    spec = tuning.infer_monotone(X, y, spec)
    splits = inner_splits(y, time, budget.inner_folds, seed)
    tuned = tuning.tune(Labelled(X, y, spec), splits[0], budget, seed)
    lgbm, card = _out_of_fold(X, y, spec, splits, tuned)
    evidence = weigh(y, lgbm, card, splits)
    weight = evidence.weight[evidence.chosen]
    held = np.concatenate([rows for _, rows in splits])
    oof = weight * lgbm[held] + (1.0 - weight) * card[held]
    calibrator, _ = calibration.choose(oof, y[held], seed)
    model = SelectedModel(spec, weight, calibrator, evidence, tuned)
    if weight > 0.0:
        rounds = tuned.rounds_for(y.size, splits[0][0].size)
        model.booster = tuning.fit_booster(X, y, spec, tuned.params, rounds)
    if weight < 1.0:
        model.scorecard = fit_scorecard(X, y, spec.categorical, seed=seed)
    return model
