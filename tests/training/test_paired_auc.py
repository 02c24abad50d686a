"""The gate's paired AUC comparison against hand-computed values and the textbook DeLong interval."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from catalog.errors import InvalidInput
from training import metrics
from training.paired_auc import paired_auc, weighted_auc

Y = np.array([0, 0, 1, 1])
A = np.array([0.1, 0.4, 0.35, 0.8])  # the default at 0.35 ranks below the good at 0.4: 3 of 4
B = np.array([0.1, 0.2, 0.3, 0.4])  # every default above every good: 4 of 4


def test_the_auc_of_a_hand_made_case() -> None:
    assert weighted_auc(Y, A, np.ones(4)) == pytest.approx(3 / 4)
    assert weighted_auc(Y, B, np.ones(4)) == pytest.approx(1.0)
    # the good at 0.4 weighted 3: pairs (0.35, 0.1) and (0.8, both) count 1 + 1 + 3 of 2 x 4
    assert weighted_auc(Y, A, np.array([1, 3, 1, 1])) == pytest.approx(5 / 8)
    ties = np.array([0.5, 0.5, 0.5, 0.9])  # a default tied with both goods counts half
    assert weighted_auc(Y, ties, np.ones(4)) == pytest.approx((0.5 + 0.5 + 2) / 4)
    assert paired_auc(Y, A, B).difference == pytest.approx(-1 / 4)


def test_a_model_against_itself_has_a_zero_interval() -> None:
    y, score = _sample(500, 3)
    same = paired_auc(y, score, score)
    assert (same.difference, same.low, same.high) == (0.0, 0.0, 0.0)


def _sample(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.15).astype(np.int64)
    return y, y * 0.8 + rng.normal(0, 1, n)


def _delong_interval(y: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """DeLong, DeLong and Clarke-Pearson (1988): the 95% normal interval of AUC(a) - AUC(b)."""
    pos, neg = y == 1, y == 0

    def components(s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x, z = s[pos][:, None], s[neg][None, :]
        psi = (x > z) + 0.5 * (x == z)
        return psi.mean(axis=1), psi.mean(axis=0)

    (va, wa), (vb, wb) = components(a), components(b)
    s10 = np.cov(np.vstack([va, vb]))
    s01 = np.cov(np.vstack([wa, wb]))
    var = (s10[0, 0] + s10[1, 1] - 2 * s10[0, 1]) / pos.sum()
    var += (s01[0, 0] + s01[1, 1] - 2 * s01[0, 1]) / neg.sum()
    diff = metrics.auc(y, a) - metrics.auc(y, b)
    half = norm.ppf(0.975) * np.sqrt(var)
    return diff - half, diff + half


def test_the_bootstrap_interval_matches_delong_on_independent_rows() -> None:
    y, a = _sample(2_000, 7)
    b = a + np.random.default_rng(8).normal(0, 0.7, len(a))  # a noisier rival
    paired = paired_auc(y, a, b, seed=1)
    low, high = _delong_interval(y, a, b)
    assert paired.difference == pytest.approx(metrics.auc(y, a) - metrics.auc(y, b))
    assert paired.low > 0  # significantly better: the noise costs AUC
    assert paired.low == pytest.approx(low, abs=0.006)
    assert paired.high == pytest.approx(high, abs=0.006)
    assert (paired.high - paired.low) == pytest.approx(high - low, rel=0.15)


def test_copies_of_an_observation_never_count_as_observations() -> None:
    y, a = _sample(600, 11)
    b = a + np.random.default_rng(12).normal(0, 1.0, len(a))
    once = paired_auc(y, a, b, seed=5)
    ten = np.repeat(np.arange(len(y)), 10)
    copied = paired_auc(y[ten], a[ten], b[ten], groups=ten, seed=5)
    assert (copied.difference, copied.low, copied.high) == pytest.approx(
        (once.difference, once.low, once.high)
    )
    assert copied.units == once.units == 600
    naive = paired_auc(y[ten], a[ten], b[ten], seed=5)  # copies taken for observations
    assert naive.high - naive.low < 0.5 * (once.high - once.low)


def test_seeded_and_refuses_rows_without_both_outcomes() -> None:
    y, a = _sample(300, 2)
    b = a[::-1].copy()
    assert paired_auc(y, a, b, seed=3) == paired_auc(y, a, b, seed=3)
    with pytest.raises(InvalidInput):
        paired_auc(np.zeros(4), A, B)
