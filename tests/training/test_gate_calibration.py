"""Calibration by proxy value on hand-made declines, and the gate's rows per observation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import beta

from training import gate_sample, metrics
from training.gate_calibration import by_proxy, jeffreys


def test_the_jeffreys_interval_is_the_beta_quantiles_and_narrows_with_loans() -> None:
    low, high = jeffreys(14, 100, 0.95)
    assert (low, high) == pytest.approx((beta.ppf(0.025, 14.5, 86.5), beta.ppf(0.975, 14.5, 86.5)))
    assert 0.08 < low < 0.14 < high < 0.22  # around 14%, hand-checked width
    wide, narrow = jeffreys(14, 100, 0.95), jeffreys(140, 1_000, 0.95)
    assert narrow[1] - narrow[0] < 0.4 * (wide[1] - wide[0])
    assert jeffreys(0, 50, 0.95)[0] == 0.0


def test_declines_are_judged_by_their_mean_pd_per_proxy_value() -> None:
    proxy = np.array([0, 0, 0, 1, 1])
    counts = {0: (130, 1_000), 1: (30, 100)}  # 13% and 30% among test loans to declines
    inside = np.array([0.05, 0.13, 0.21, 0.25, 0.35])  # means 0.13 and 0.30: ranks within
    passed, gap, detail = by_proxy(inside, proxy, counts, 0.95)
    assert passed
    assert gap == 0.0
    assert "proxy 0: mean PD 0.1300 vs 130/1,000 = 0.1300" in detail
    low0 = jeffreys(130, 1_000, 0.95)[0]
    under = np.array([0.02, 0.03, 0.04, 0.25, 0.35])  # the approved loans' level: too low
    passed, gap, _ = by_proxy(under, proxy, counts, 0.95)
    assert not passed
    assert gap == pytest.approx(low0 - 0.03)


def test_the_gate_rows_name_the_observation_each_copy_stands_for() -> None:
    test = pd.DataFrame(
        {"label": [0] * 60 + [1] * 40, "explore": [False] * 50 + [True] * 50, "proxy": 0}
    )
    chosen = gate_sample.choose(gate_sample.SampleInput(test, None, 200, 30))
    units = chosen.rows[gate_sample.UNIT]
    assert units.nunique() == 100
    assert (units.value_counts().sort_index().to_numpy() == [1] * 50 + [4] * 50).all()
    assert not chosen.rows[gate_sample.INFERRED].any()
    rejects = pd.DataFrame({"label": [1, 0, 0], "proxy": [1, 0, 0]})
    few = test.assign(label=[0] * 75 + [1] * 25)
    inferred = gate_sample.choose(
        gate_sample.SampleInput(few, rejects, 200, 30, 2.0, {0: (5, 50), 1: (3, 10)})
    )
    assert inferred.name == "reject_inferred"
    assert inferred.proxy_counts == {0: (5, 50), 1: (3, 10)}
    flagged = inferred.rows[gate_sample.INFERRED].to_numpy()
    assert flagged.sum() == 6
    assert inferred.rows.loc[flagged, gate_sample.UNIT].nunique() == 3


def test_the_noise_bound_counts_observations_not_copies() -> None:
    rng = np.random.default_rng(4)
    pd_ = np.clip(rng.beta(1.2, 8, 300), 1e-4, 0.9)
    ten = np.repeat(np.arange(300), 10)
    copies = metrics.ece_noise(pd_[ten], seed=1)
    observations = metrics.ece_noise(pd_[ten], seed=1, groups=ten)
    assert observations > 2 * copies
    assert observations == pytest.approx(metrics.ece_noise(pd_, seed=2), rel=0.25)


def test_the_out_of_time_split_reaches_back_until_test_loans_hold_the_defaults() -> None:
    days = pd.date_range("2024-01-01", periods=1_000, freq="D")
    explore = np.arange(1_000) % 5 == 0  # every fifth loan a test loan to a decline
    bad = explore & (np.arange(1_000) % 10 == 0)  # half of them default: 100 in all
    frame = pd.DataFrame({"as_of": days, "uscc": "x", "label": bad.astype(int), "explore": explore})
    assert gate_sample.pooled_shares(frame, (0.6, 0.2), 20) == (0.6, 0.2)  # 20 in the newest 20%
    train, valid = gate_sample.pooled_shares(frame, (0.6, 0.2), 30)
    assert 1 - train - valid == pytest.approx(0.30)
    assert train / valid == pytest.approx(3.0)
    assert gate_sample.pooled_shares(frame, (0.6, 0.2), 41) == (0.6, 0.2)  # beyond 40%: never
