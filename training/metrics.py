"""Discrimination, calibration, stability and decision metrics: pure functions on arrays.

Conventions: `y` is 1 for a bad (default) and 0 for a good; a `score` orders risk (higher =
riskier, a PD is one); a `pd` is a probability in [0, 1]. Every function is deterministic and
returns plain floats, small dicts or small DataFrames.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas

from catalog.errors import InvalidInput

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

PSI_STABLE = 0.10
"""PSI below this: no meaningful shift."""
PSI_SHIFT = 0.25
"""PSI above this: a significant shift, act on it; in between: a moderate shift, investigate."""
PSI_EPSILON = 1e-4
"""Floor on a bin's share so an empty bin gives a large but finite PSI term."""


def as_labels(y: npt.ArrayLike) -> IntArray:
    """`y` as a non-empty 1-D 0/1 integer array."""
    arr = np.asarray(y, dtype=np.float64).ravel()
    if arr.size == 0 or not np.isin(arr, (0.0, 1.0)).all():
        raise InvalidInput("y must be a non-empty array of 0/1 labels")
    return arr.astype(np.int64)


def _floats(values: npt.ArrayLike, n: int, name: str) -> FloatArray:
    """`values` as a finite 1-D float array of length `n`."""
    arr = np.asarray(values, dtype=np.float64).ravel()
    if arr.size != n or not np.isfinite(arr).all():
        raise InvalidInput(f"{name} must hold {n} finite numbers")
    return arr


def _probabilities(y: IntArray, p: npt.ArrayLike) -> FloatArray:
    """`p` as PDs aligned with `y`."""
    arr = _floats(p, y.size, "pd")
    if ((arr < 0.0) | (arr > 1.0)).any():
        raise InvalidInput("pd must lie in [0, 1]")
    return arr


def _class_counts(y: IntArray) -> tuple[int, int]:
    """Numbers of bads and goods; both must be positive for ranking metrics."""
    n_bads = int(y.sum())
    if n_bads in (0, y.size):
        raise InvalidInput("ranking metrics need both goods and bads")
    return n_bads, y.size - n_bads


def auc(y: npt.ArrayLike, score: npt.ArrayLike) -> float:
    """Area under the ROC curve: P(a bad scores above a good), ties counting one half."""
    labels = as_labels(y)
    s = _floats(score, labels.size, "score")
    n_bads, n_goods = _class_counts(labels)
    _, inverse, counts = np.unique(s, return_inverse=True, return_counts=True)
    mean_ranks = np.cumsum(counts) - (counts - 1) / 2.0  # 1-based average rank per value
    rank_sum = float(mean_ranks[inverse][labels == 1].sum())
    return (rank_sum - n_bads * (n_bads + 1) / 2.0) / (n_bads * n_goods)


def gini(y: npt.ArrayLike, score: npt.ArrayLike) -> float:
    """Gini coefficient (accuracy ratio), 2 * AUC - 1."""
    return 2.0 * auc(y, score) - 1.0


def ks(y: npt.ArrayLike, score: npt.ArrayLike) -> float:
    """Kolmogorov-Smirnov: the largest gap between the score CDFs of bads and goods."""
    labels = as_labels(y)
    s = _floats(score, labels.size, "score")
    n_bads, n_goods = _class_counts(labels)
    _, inverse = np.unique(s, return_inverse=True)
    bads = np.bincount(inverse, weights=labels)
    goods = np.bincount(inverse, weights=1 - labels)
    gap = np.abs(np.cumsum(bads) / n_bads - np.cumsum(goods) / n_goods)
    return float(gap.max())


def brier(y: npt.ArrayLike, pd: npt.ArrayLike) -> float:
    """Brier score, the mean squared error of the PD."""
    labels = as_labels(y)
    return float(np.mean((_probabilities(labels, pd) - labels) ** 2))


def _quantile_bins(values: FloatArray, bins: int) -> IntArray:
    """Equal-mass bin index per value (right-closed; ties stay together, empty bins dropped)."""
    if bins < 1:
        raise InvalidInput("bins must be at least 1")
    cuts = np.unique(np.quantile(values, np.arange(1, bins) / bins))
    _, index = np.unique(np.searchsorted(cuts, values, side="left"), return_inverse=True)
    return index.astype(np.int64)


def calibration_table(y: npt.ArrayLike, pd: npt.ArrayLike, bins: int = 10) -> pandas.DataFrame:
    """Observed against predicted bad rate per quantile bin of the PD."""
    labels = as_labels(y)
    p = _probabilities(labels, pd)
    frame = pandas.DataFrame({"bin": _quantile_bins(p, bins), "y": labels, "pd": p})
    table = frame.groupby("bin").agg(
        n=("y", "size"),
        n_bads=("y", "sum"),
        lower_pd=("pd", "min"),
        upper_pd=("pd", "max"),
        mean_pd=("pd", "mean"),
        bad_rate=("y", "mean"),
    )
    return table.astype({"n": "int64", "n_bads": "int64"})


def ece(y: npt.ArrayLike, pd: npt.ArrayLike, bins: int = 10) -> float:
    """Expected calibration error: sum over bins of n_b / N * |bad_rate_b - mean_pd_b|.

    Bins are quantiles of the PD (equal mass), not equal widths: with bad rates of a few
    per cent, equal-width bins would put nearly every row in the first bin. On a finite
    sample even a perfectly calibrated PD has an ECE above zero, of the order of
    sqrt(pd (1 - pd) / n_b) per bin.
    """
    table = calibration_table(y, pd, bins)
    weights = table["n"] / table["n"].sum()
    return float((weights * (table["bad_rate"] - table["mean_pd"]).abs()).sum())


NOISE_DRAWS = 400
NOISE_QUANTILE = 0.95


def ece_noise(
    pd: npt.ArrayLike, bins: int = 10, seed: int = 0, groups: npt.ArrayLike | None = None
) -> float:
    """The ECE a perfectly calibrated model would exceed with 5% probability on these rows.

    Labels are drawn `NOISE_DRAWS` times as Bernoulli(pd) (a binomial per bin), with the
    same quantile bins as `ece`; the 95th percentile of their ECEs is the sampling noise a
    calibration limit must allow for: about 0.04 for 600 loans at a 2% bad rate, under 0.005
    for 50,000. Seeded: the same rows give the same bound. Rows that repeat one independent
    unit (`groups`, e.g. a test loan standing for ten declines) share one draw.
    """
    p = np.clip(np.asarray(pd, dtype=np.float64).ravel(), 0.0, 1.0)
    if not p.size:
        return 0.0
    index = _quantile_bins(p, bins)  # the bins `ece` uses
    counts = np.bincount(index)
    mean_pd = np.bincount(index, weights=p) / counts
    rng = np.random.default_rng(seed)
    if groups is None:
        draws = rng.random((NOISE_DRAWS, p.size)) < p
    else:
        unit = np.unique(np.asarray(groups), return_inverse=True)[1].ravel()
        first = np.unique(unit, return_index=True)[1]
        draws = (rng.random((NOISE_DRAWS, first.size)) < p[first])[:, unit]
    bads = np.stack([np.bincount(index, weights=d, minlength=len(counts)) for d in draws])
    noise = (np.abs(bads / counts - mean_pd) * counts / p.size).sum(axis=1)
    return float(np.quantile(noise, NOISE_QUANTILE))


def psi_reference(values: npt.ArrayLike, bins: int = 10) -> FloatArray:
    """Frozen PSI bin edges from reference values: -inf, unique inner quantiles, +inf.

    Bins are right-closed, so a mass point (say 60% zero tax) keeps a bin of its own.
    NaN is not binned here: `psi` always gives missing values a bin of their own.
    """
    if bins < 1:
        raise InvalidInput("bins must be at least 1")
    arr = np.asarray(values, dtype=np.float64).ravel()
    finite = arr[np.isfinite(arr)]
    cuts = np.unique(np.quantile(finite, np.arange(1, bins) / bins)) if finite.size else ()
    return np.concatenate([[-np.inf], cuts, [np.inf]]).astype(np.float64)


def _shares(values: npt.ArrayLike, edges: FloatArray) -> FloatArray:
    """Share of values per bin of `edges`, then the share of NaN."""
    arr = np.asarray(values, dtype=np.float64).ravel()
    if arr.size == 0:
        raise InvalidInput("PSI needs at least one value on each side")
    missing = np.isnan(arr)
    index = np.searchsorted(edges[1:-1], arr[~missing], side="left")
    counts = np.bincount(index, minlength=edges.size - 1)
    return np.append(counts, missing.sum()) / arr.size


def psi(
    reference_values: npt.ArrayLike,
    actual_values: npt.ArrayLike,
    edges: npt.ArrayLike | None = None,
) -> float:
    """Population stability index of actual against reference values.

    sum over bins of (a - r) * ln(a / r), shares floored at `PSI_EPSILON`; edges default to
    `psi_reference(reference_values)`. Read below `PSI_STABLE` (0.1) as stable, 0.1-0.25 as
    a moderate shift to investigate, above `PSI_SHIFT` (0.25) as a significant shift.
    """
    frozen = psi_reference(reference_values) if edges is None else np.asarray(edges, float)
    if frozen.size < 2 or frozen[0] != -np.inf or frozen[-1] != np.inf:
        raise InvalidInput("PSI edges must run from -inf to +inf")
    ref = np.maximum(_shares(reference_values, frozen), PSI_EPSILON)
    act = np.maximum(_shares(actual_values, frozen), PSI_EPSILON)
    return float(np.sum((act - ref) * np.log(act / ref)))


def bin_shares(values: npt.ArrayLike, edges: npt.ArrayLike) -> FloatArray:
    """Share of `values` per bin of frozen `edges` (as `psi` bins them), then the share of NaN."""
    frozen = np.asarray(edges, dtype=np.float64)
    if frozen.size < 2 or frozen[0] != -np.inf or frozen[-1] != np.inf:
        raise InvalidInput("PSI edges must run from -inf to +inf")
    return _shares(values, frozen)


def psi_from_shares(reference_shares: npt.ArrayLike, actual_shares: npt.ArrayLike) -> float:
    """PSI between two share vectors over the same bins (as `psi`, shares floored likewise)."""
    ref = np.asarray(reference_shares, dtype=np.float64).ravel()
    act = np.asarray(actual_shares, dtype=np.float64).ravel()
    if ref.size != act.size or ref.size == 0:
        raise InvalidInput("PSI needs the same non-empty bins on both sides")
    ref, act = np.maximum(ref, PSI_EPSILON), np.maximum(act, PSI_EPSILON)
    return float(np.sum((act - ref) * np.log(act / ref)))


def grade_table(
    y: npt.ArrayLike, pd: npt.ArrayLike, grades: npt.ArrayLike, approved: npt.ArrayLike
) -> pandas.DataFrame:
    """Per grade: rows, share of rows, bad rate, mean PD and approval rate."""
    labels = as_labels(y)
    frame = pandas.DataFrame(
        {
            "grade": np.asarray(grades).ravel(),
            "y": labels,
            "pd": _probabilities(labels, pd),
            "approved": np.asarray(approved, dtype=bool).ravel(),
        }
    )
    table = frame.groupby("grade", sort=True, observed=True).agg(
        n=("y", "size"),
        bad_rate=("y", "mean"),
        mean_pd=("pd", "mean"),
        approval_rate=("approved", "mean"),
    )
    table.insert(1, "share", table["n"] / labels.size)
    return table


def approvals_at_bad_rate(
    y: npt.ArrayLike, score: npt.ArrayLike, bad_rate: float
) -> dict[str, float]:
    """Most approvals, lowest scores first, whose cumulative bad rate stays <= `bad_rate`.

    A cut-off cannot split rows with equal scores, so only ends of tie groups are candidate
    cut-offs. Returns n_approved, approval_rate, the realised bad_rate and the highest
    approved score_cutoff (both NaN when nothing can be approved).
    """
    labels = as_labels(y)
    s = _floats(score, labels.size, "score")
    order = np.argsort(s, kind="stable")
    sorted_scores, cum_bads = s[order], np.cumsum(labels[order])
    group_ends = np.flatnonzero(np.append(sorted_scores[1:] != sorted_scores[:-1], True))
    rates = cum_bads[group_ends] / (group_ends + 1)
    feasible = group_ends[rates <= bad_rate + 1e-12]
    if feasible.size == 0:
        return {"n_approved": 0, "approval_rate": 0.0, "bad_rate": np.nan, "score_cutoff": np.nan}
    last = int(feasible.max())
    return {
        "n_approved": last + 1,
        "approval_rate": (last + 1) / labels.size,
        "bad_rate": float(cum_bads[last] / (last + 1)),
        "score_cutoff": float(sorted_scores[last]),
    }


def summary(y: npt.ArrayLike, pd: npt.ArrayLike) -> dict[str, float]:
    """Headline metrics of a PD on labelled rows."""
    labels = as_labels(y)
    area = auc(labels, pd)
    return {
        "auc": area,
        "ks": ks(labels, pd),
        "gini": 2.0 * area - 1.0,
        "brier": brier(labels, pd),
        "ece": ece(labels, pd),
        "n_rows": labels.size,
        "n_bads": int(labels.sum()),
        "bad_rate": float(labels.mean()),
    }
