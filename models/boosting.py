"""Where a PD model's trees are grown: one boosting job, and the engines that run it.

`PDClassifier.fit` describes the job (parameters with the monotone constraints, rounds, early
stopping, the train and out-of-time validation matrices); an engine grows the trees and returns
a plain `lightgbm.Booster` with its best iteration. `LocalEngine` is `lightgbm.train` in this
process; `training.dask_engine.DaskEngine` grows the same job with `lightgbm.dask` on a Dask
cluster. Either way the fitted model, its artifacts and its serving are the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import lightgbm as lgb
import numpy as np


@dataclass(frozen=True)
class BoostingJob:
    """One boosting run: parameters, rounds, and the train and early-stopping rows as matrices.

    `init_*` are a base model's raw scores to boost from (None: from the label's mean).
    """

    params: dict[str, Any]
    names: tuple[str, ...]
    categorical: tuple[str, ...]
    rounds: int
    patience: int  # early stopping: rounds without a better validation log-loss
    X: np.ndarray
    y: np.ndarray
    X_valid: np.ndarray
    y_valid: np.ndarray
    init: np.ndarray | None = None
    init_valid: np.ndarray | None = None
    weight: np.ndarray | None = None  # per-row training weights (reject inference); None: 1
    weight_valid: np.ndarray | None = None


class BoostingEngine(Protocol):
    """Where the trees are grown: returns the booster and its best iteration (early stopping)."""

    def boost(self, job: BoostingJob) -> tuple[lgb.Booster, int]:
        """Grow up to `job.rounds` trees; the best iteration by validation log-loss."""
        ...

    def describe(self) -> dict[str, str | int]:
        """What MLflow records about the engine (its name, and its size where it has one)."""
        ...


class LocalEngine:
    """`lightgbm.train` in this process, with LightGBM's own early stopping."""

    def boost(self, job: BoostingJob) -> tuple[lgb.Booster, int]:
        """Grow trees until `job.patience` rounds bring no better validation log-loss."""
        train = _dataset(job, (job.X, job.y, job.init, job.weight))
        valid = _dataset(
            job, (job.X_valid, job.y_valid, job.init_valid, job.weight_valid), reference=train
        )
        booster = lgb.train(
            job.params,
            train,
            num_boost_round=job.rounds,
            valid_sets=[valid],
            callbacks=[lgb.early_stopping(job.patience, verbose=False)],
        )
        return booster, int(booster.best_iteration or job.rounds)

    def describe(self) -> dict[str, str | int]:
        """What MLflow records about the engine."""
        return {"engine": "local"}


def _dataset(
    job: BoostingJob,
    rows: tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None],
    reference: lgb.Dataset | None = None,
) -> lgb.Dataset:
    X, y, init, weight = rows
    return lgb.Dataset(
        X,
        label=y,
        weight=weight,
        feature_name=list(job.names),
        categorical_feature=list(job.categorical),
        reference=reference,
        init_score=init,
        free_raw_data=False,
        params={"verbosity": -1},
    )


@dataclass(frozen=True)
class Boosting:
    """How many trees at most, when to stop, and the engine that grows them."""

    n_estimators: int = 800
    early_stopping_rounds: int = 60
    engine: BoostingEngine = field(default_factory=LocalEngine)
