"""Two models' AUC on the same rows: the difference and its seeded paired-bootstrap interval.

The gate compares a challenger with the champion on one sample; both AUCs move together with
the sample, so the difference is judged with a paired interval (both models scored on each
resample), not with a point floor. Rows may repeat one independent unit (a test loan standing
for the declines it was drawn from, `groups`): the bootstrap resamples the units, so ten
copies of one loan never count as ten observations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from catalog.errors import InvalidInput

DRAWS = 1_000
LEVEL = 0.95


@dataclass(frozen=True)
class PairedAuc:
    """AUC of `a` minus AUC of `b` on the same rows, and its paired interval."""

    difference: float
    low: float
    high: float
    units: int  # independent units the bootstrap resampled

    def describe(self) -> str:
        """The difference and interval for a verdict line."""
        return f"{self.difference:+.4f} [{self.low:+.4f}, {self.high:+.4f}]"


def _tie_index(score: np.ndarray) -> np.ndarray:
    """Each row's rank among the distinct scores (tied rows share one)."""
    return np.unique(score, return_inverse=True)[1].ravel()


def _auc(index: np.ndarray, y: np.ndarray, weight: np.ndarray) -> float:
    """Weighted AUC from tie ranks: P(score of a default > a good's), ties counting half."""
    bad = np.bincount(index, weights=weight * y)
    good = np.bincount(index, weights=weight * (1 - y))
    below = np.cumsum(good) - good
    total = bad.sum() * good.sum()
    return float((bad * (below + 0.5 * good)).sum() / total) if total else float("nan")


def weighted_auc(y: npt.ArrayLike, score: npt.ArrayLike, weight: npt.ArrayLike) -> float:
    """AUC with row weights (a row of weight 3 counts as three rows)."""
    y_, s = np.asarray(y, dtype=np.float64), np.asarray(score, dtype=np.float64)
    return _auc(_tie_index(s), y_, np.asarray(weight, dtype=np.float64))


def paired_auc(
    y: npt.ArrayLike,
    a: npt.ArrayLike,
    b: npt.ArrayLike,
    groups: npt.ArrayLike | None = None,
    seed: int = 0,
) -> PairedAuc:
    """AUC(a) - AUC(b) on rows `y`, with the seeded 95% percentile interval of the unit bootstrap.

    `groups` names each row's independent unit (None: every row its own); each draw
    resamples units with replacement and weighs every row by its unit's count.
    """
    y_ = np.asarray(y, dtype=np.float64)
    a_, b_ = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if not (len(y_) == len(a_) == len(b_)) or not 0 < y_.sum() < len(y_):
        raise InvalidInput("a paired AUC needs equal-length scores and both outcomes")
    unit = np.arange(len(y_)) if groups is None else np.unique(groups, return_inverse=True)[1]
    unit = np.asarray(unit).ravel()
    units = int(unit.max()) + 1
    ia, ib = _tie_index(a_), _tie_index(b_)
    ones = np.ones(len(y_))
    point = _auc(ia, y_, ones) - _auc(ib, y_, ones)
    rng = np.random.default_rng(seed)
    diffs = np.empty(DRAWS)
    for i in range(DRAWS):
        weight = np.bincount(rng.integers(0, units, units), minlength=units)[unit]
        diffs[i] = _auc(ia, y_, weight) - _auc(ib, y_, weight)
    diffs = diffs[np.isfinite(diffs)]
    tail = (1 - LEVEL) / 2
    low, high = np.quantile(diffs, [tail, 1 - tail])
    return PairedAuc(point, float(low), float(high), units)
