"""The LightGBM shape of the platform and outcomes models, chosen by the selection's tuning.

`precredit train --label platform|outcomes` (and a bank's retraining) no longer fit one fixed
shape: `choose` runs `training.tuning.tune` (Optuna's seeded TPE in the size-scaled space,
the registry's monotone constraints) on the training split only, its oldest 75% of dates
fitting and its newest 25% held out. The validation split (early stopping, calibration) and
the test split (every reported metric and the gate) are never seen. The budget is a number of
trials sized by rows (no time limit that load could reach): the same rows and seed give the
same trials and the same shape.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from models.pd_model import FeatureSpec
from training import selection, tuning
from training.tuning import Budget, Labelled

SHAPE_KEYS = (
    "num_leaves",
    "max_depth",
    "min_child_samples",
    "learning_rate",
    "reg_lambda",
    "subsample",
    "colsample_bytree",
    "cat_smooth",
)
MIN_TUNING_BADS = 40  # fewer defaults in the training split: the default shape is kept
MAX_ROUNDS = 2000  # the tuned learning rate may be low: room for early stopping to decide


SAFETY_SECONDS = 3_600.0  # never the limit in practice: the trials decide, whatever the load


def budget_for(n_rows: int) -> Budget:
    """Trials sized so that 100,000 rows train, selection included, within 3 minutes on 2 cores.

    Only the number of trials bounds the search: a time limit would stop it after fewer
    trials on a loaded machine, and the same data and seed must give the same model anywhere.
    """
    trials = 10 if n_rows <= 120_000 else 6
    return Budget(trials=trials, seconds=SAFETY_SECONDS, inner_folds=3)


@dataclass(frozen=True)
class Shape:
    """The chosen shape, the inner holdout's evidence for it, and what the search cost."""

    params: dict[str, Any]
    holdout_auc: float
    trials: int
    seconds: float

    def to_meta(self) -> dict[str, Any]:
        """What the model's `meta.json` records (deterministic: no timing)."""
        return {"params": self.params, "holdout_auc": self.holdout_auc, "trials": self.trials}


def choose(
    train: pd.DataFrame, spec: FeatureSpec, seed: int, budget: Budget | None = None
) -> Shape | None:
    """Tune the shape on the training rows (newest 25% of their dates held out); None: too few."""
    y = train["label"].to_numpy(dtype=np.int64)
    if int(y.sum()) < MIN_TUNING_BADS or int(y.sum()) == y.size:
        return None
    rows = train.reset_index(drop=True)
    budget = budget or budget_for(len(rows))
    splits = selection.inner_splits(y, pd.to_datetime(rows["as_of"]), budget.inner_folds, seed)
    started = time.perf_counter()
    tuned = tuning.tune(Labelled(rows, y, spec), splits[0], budget, seed)
    params = {key: tuned.params[key] for key in SHAPE_KEYS}
    return Shape(params, round(tuned.holdout_auc, 6), tuned.trials, time.perf_counter() - started)
