"""Map raw model scores (log-odds) to calibrated PDs: isotonic or Platt, chosen out of time.

Both calibrators are plain numbers (thresholds or two coefficients), saved as JSON; no pickle.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
from scipy.optimize import brentq
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.model_selection import StratifiedKFold

Method = Literal["isotonic", "platt"]
PD_FLOOR, PD_CEIL = 1e-4, 0.9999


@dataclass(frozen=True)
class Calibrator:
    """A fitted score -> PD map; `x`/`y` are isotonic knots, `a`/`b` Platt coefficients."""

    method: Method
    x: tuple[float, ...] = ()
    y: tuple[float, ...] = ()
    a: float = 0.0
    b: float = 0.0
    shift: float = 0.0  # log-odds added to the mapped PD: the level of the newest period (`level`)

    def __call__(self, raw: np.ndarray) -> np.ndarray:
        """Calibrated PD for raw scores, clipped to [1e-4, 0.9999]."""
        raw = np.asarray(raw, dtype=float)
        if self.method == "platt":
            pd_ = 1.0 / (1.0 + np.exp(-(self.a * raw + self.b + self.shift)))
        else:
            pd_ = np.interp(raw, self.x, self.y)
            if self.shift:
                odds = np.clip(pd_, PD_FLOOR, PD_CEIL)
                pd_ = 1.0 / (1.0 + np.exp(-(np.log(odds / (1.0 - odds)) + self.shift)))
        return np.clip(pd_, PD_FLOOR, PD_CEIL)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready parameters."""
        return {
            "method": self.method,
            "x": list(self.x),
            "y": list(self.y),
            "a": self.a,
            "b": self.b,
            "shift": self.shift,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibrator:
        """Inverse of `to_dict`."""
        return cls(
            data["method"],
            tuple(data["x"]),
            tuple(data["y"]),
            float(data["a"]),
            float(data["b"]),
            float(data.get("shift", 0.0)),  # calibrators saved before the level had none
        )


def fit(
    method: Method, raw: np.ndarray, y: np.ndarray, weight: np.ndarray | None = None
) -> Calibrator:
    """Fit one calibrator on (raw score, outcome) pairs, each weighted `weight` (None: 1)."""
    raw, y = np.asarray(raw, dtype=float), np.asarray(y, dtype=int)
    if method == "platt":
        model = LogisticRegression(C=1e6, max_iter=1000).fit(
            raw.reshape(-1, 1), y, sample_weight=weight
        )
        return Calibrator("platt", a=float(model.coef_[0, 0]), b=float(model.intercept_[0]))
    iso = IsotonicRegression(out_of_bounds="clip", y_min=PD_FLOOR, y_max=PD_CEIL)
    iso.fit(raw, y, sample_weight=weight)
    return Calibrator(
        "isotonic", x=tuple(map(float, iso.X_thresholds_)), y=tuple(map(float, iso.y_thresholds_))
    )


def cross_validated_loss(
    method: Method, raw: np.ndarray, y: np.ndarray, seed: int, weight: np.ndarray | None = None
) -> float:
    """Out-of-fold (weighted) log loss of a calibration method (5 folds, fewer when bads are rare)."""
    folds = int(min(5, max(2, np.sum(y == 1)), max(2, np.sum(y == 0))))
    w = None if weight is None else np.asarray(weight, dtype=float)
    losses = []
    for train, test in StratifiedKFold(folds, shuffle=True, random_state=seed).split(raw, y):
        pd_ = fit(method, raw[train], y[train], None if w is None else w[train])(raw[test])
        fold_w = None if w is None else w[test]
        losses.append(log_loss(y[test], pd_, labels=[0, 1], sample_weight=fold_w))
    return float(np.mean(losses))


def choose(
    raw: np.ndarray, y: np.ndarray, seed: int, weight: np.ndarray | None = None
) -> tuple[Calibrator, dict[str, float]]:
    """Pick isotonic or Platt by cross-validated log loss on out-of-time data, refit on all of it.

    `weight` makes the rows stand for a population (e.g. test loans to declined applicants
    standing for all of a period's declines); None weighs every row 1.
    """
    raw, y = np.asarray(raw, dtype=float), np.asarray(y, dtype=int)
    losses = {m: cross_validated_loss(m, raw, y, seed, weight) for m in ("isotonic", "platt")}
    best: Method = "isotonic" if losses["isotonic"] < losses["platt"] else "platt"
    return fit(best, raw, y, weight), losses


MAX_SHIFT = 3.0  # log-odds: a level further off than this is not a level but a broken map


def level(
    calibrator: Calibrator, raw: np.ndarray, y: np.ndarray, weight: np.ndarray | None = None
) -> Calibrator:
    """The calibrator shifted in log-odds so that its mean PD on (raw, y) equals their bad rate
    (both weighted by `weight` when given).

    Fitted on the newest mature period: the map's shape comes from every calibration row, its
    level from the most recent ones, the best forecast of the next period's base rate.
    """
    base = replace(calibrator, shift=0.0)
    target = float(np.average(y, weights=weight))

    def gap(shift: float) -> float:
        return float(np.average(replace(base, shift=shift)(raw), weights=weight)) - target

    if not 0.0 < target < 1.0 or gap(-MAX_SHIFT) > 0 or gap(MAX_SHIFT) < 0:
        return calibrator
    return replace(base, shift=float(brentq(gap, -MAX_SHIFT, MAX_SHIFT, xtol=1e-10)))
