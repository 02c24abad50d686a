"""The PD classifier: LightGBM with declared monotone constraints, early-stopped out of time.

scikit-learn's estimator contract: `__init__` stores parameters, `fit` returns self, fitted
state ends in `_`. The booster is kept as LightGBM's own text model (a safe format).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.exceptions import NotFittedError

from models.boosting import Boosting, BoostingJob
from models.single_row import SingleRowPredictor

DEFAULT_PARAMS: dict[str, Any] = {
    "objective": "binary",
    "learning_rate": 0.05,
    "num_leaves": 15,
    "max_depth": 4,  # bench/bench_model_shape.py: best out-of-time AUC, half the SHAP cost of 5
    "min_child_samples": 40,
    "subsample": 0.8,
    "subsample_freq": 1,
    "colsample_bytree": 0.8,
    "reg_lambda": 1.0,
    # "basic": LightGBM 4.7's "advanced" and "intermediate" both let PD move against a declared
    # direction on some data (the gate caught "intermediate" on a bank's outcomes model).
    "monotone_constraints_method": "basic",
    "deterministic": True,
    "force_row_wise": True,
    "num_threads": 2,
    "verbosity": -1,
}


# Below this many rows a prediction runs on one thread: waking OpenMP workers costs more than
# it saves, and idle workers spin between requests, stealing the other API worker's core.
SINGLE_THREAD_ROWS = 512
WEIGHT_COLUMN = "sample_weight"  # optional per-row training weight (reject inference)


def _threads(rows: int) -> int:
    """LightGBM `num_threads` for a prediction of `rows` rows (0: its default, all cores)."""
    return 1 if rows < SINGLE_THREAD_ROWS else 0


@dataclass(frozen=True)
class FeatureSpec:
    """The model's inputs in order, with their monotone direction and categorical flags."""

    names: tuple[str, ...]
    monotone: tuple[int, ...]
    categorical: tuple[str, ...] = ()
    texts: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (zh, en)
    categories: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.names) != len(self.monotone):
            raise ValueError("one monotone direction per feature")

    @cached_property
    def index(self) -> dict[str, int]:
        """Each feature's column in the model's input order."""
        return {name: j for j, name in enumerate(self.names)}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready spec."""
        return {
            "names": list(self.names),
            "monotone": list(self.monotone),
            "categorical": list(self.categorical),
            "texts": {k: list(v) for k, v in self.texts.items()},
            "categories": {k: list(v) for k, v in self.categories.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureSpec:
        """Inverse of `to_dict`."""
        texts = {k: (v[0], v[1]) for k, v in data.get("texts", {}).items()}
        categories = {k: tuple(v) for k, v in data.get("categories", {}).items()}
        return cls(
            tuple(data["names"]),
            tuple(data["monotone"]),
            tuple(data["categorical"]),
            texts,
            categories,
        )


class PDClassifier:
    """Gradient-boosted trees on the registry's features; raw output is log-odds."""

    def __init__(
        self,
        spec: FeatureSpec,
        params: dict[str, Any] | None = None,
        boosting: Boosting | None = None,
        seed: int = 42,
    ) -> None:
        self.spec = spec
        self.params = params
        self.boosting = boosting
        self.seed = seed

    def _params(self) -> dict[str, Any]:
        merged = DEFAULT_PARAMS | (self.params or {})
        return merged | {"seed": self.seed, "monotone_constraints": list(self.spec.monotone)}

    def matrix(self, X: pd.DataFrame) -> np.ndarray:
        """The model's input matrix: features in spec order, float64 (hot path: numpy only)."""
        return np.ascontiguousarray(X.loc[:, list(self.spec.names)].to_numpy(dtype=np.float64))

    def fit(
        self,
        X: pd.DataFrame,
        y: np.ndarray,
        X_valid: pd.DataFrame,
        y_valid: np.ndarray,
        init: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> PDClassifier:
        """Train on (X, y), early-stopping on the out-of-time validation set.

        `init` is a base model's raw scores on (X, X_valid) to boost from (transfer learning).
        A `sample_weight` column in X or X_valid weights its rows (reject-inferred applicants).
        """
        boosting = self.boosting or Boosting()
        init_train, init_valid = init if init is not None else (None, None)
        job = BoostingJob(
            params=self._params(),
            names=self.spec.names,
            categorical=self.spec.categorical,
            rounds=boosting.n_estimators,
            patience=boosting.early_stopping_rounds,
            X=self.matrix(X),
            y=np.asarray(y, dtype=float),
            X_valid=self.matrix(X_valid),
            y_valid=np.asarray(y_valid, dtype=float),
            init=init_train,
            init_valid=init_valid,
            weight=_weights(X),
            weight_valid=_weights(X_valid),
        )
        self.booster_, self.best_iteration_ = boosting.engine.boost(job)
        self.__dict__.pop("single_row_", None)  # made again from the new booster
        return self

    def _booster(self) -> lgb.Booster:
        if not hasattr(self, "booster_"):
            raise NotFittedError("PDClassifier is not fitted")
        return self.booster_

    def raw_score(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """Log-odds of default before calibration."""
        matrix = X if isinstance(X, np.ndarray) else self.matrix(X)
        if len(matrix) == 1:
            return self._single_row().raw_score(matrix)
        return np.asarray(
            self._booster().predict(
                matrix,
                raw_score=True,
                num_iteration=self.best_iteration_,
                num_threads=_threads(len(matrix)),
            )
        )

    def contributions(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """TreeSHAP contributions (n, features + 1); the last column is the base value."""
        matrix = X if isinstance(X, np.ndarray) else self.matrix(X)
        if len(matrix) == 1:
            return self._single_row().contributions(matrix)
        return np.asarray(
            self._booster().predict(
                matrix,
                pred_contrib=True,
                num_iteration=self.best_iteration_,
                num_threads=_threads(len(matrix)),
            )
        )

    def _single_row(self) -> SingleRowPredictor:
        """LightGBM's single-row fast path for this booster (one answer's hot path)."""
        single: SingleRowPredictor | None = self.__dict__.get("single_row_")
        if single is None:
            text, ncol = self.model_text(), len(self.spec.names)
            single = self.__dict__.setdefault("single_row_", SingleRowPredictor(text, ncol))
        return single

    def __getstate__(self) -> dict[str, Any]:
        """Picklable state: the single-row predictor's thread-local handles are left out."""
        return {k: v for k, v in self.__dict__.items() if k != "single_row_"}

    def model_text(self) -> str:
        """LightGBM's text model (the saved artifact)."""
        return str(self._booster().model_to_string(num_iteration=self.best_iteration_))

    @classmethod
    def from_text(cls, spec: FeatureSpec, text: str, seed: int = 42) -> PDClassifier:
        """Rebuild a fitted classifier from its text model."""
        model = cls(spec, seed=seed)
        model.booster_ = lgb.Booster(model_str=text)
        model.best_iteration_ = model.booster_.current_iteration()
        return model


def _weights(X: pd.DataFrame) -> np.ndarray | None:
    """The rows' training weights (`WEIGHT_COLUMN`, e.g. reject-inferred applicants); None: 1."""
    return X[WEIGHT_COLUMN].to_numpy(dtype=np.float64) if WEIGHT_COLUMN in X else None
