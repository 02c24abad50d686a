"""Validation tests checked against values computed by hand (docs/validation.md)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy.stats import beta

from catalog.errors import InvalidInput
from models.grades import MasterScale
from training import validation
from training.migration import concentration, migration
from training.overrides import overrides
from training.soundness import discordance, monotonicity, reason_light

Y = np.array([1, 1, 0, 0, 0])
SCORE = np.array([0.9, 0.4, 0.5, 0.1, 0.2])


def test_binomial_p_value_is_the_exact_upper_tail() -> None:
    # 200 loans at PD 2%, 9 defaults: P(X >= 9) = 1 - sum_{k<9} C(200,k) .02^k .98^(200-k)
    below = sum(math.comb(200, k) * 0.02**k * 0.98 ** (200 - k) for k in range(9))
    assert validation.binomial_p(9, 200, 0.02) == pytest.approx(1 - below, rel=1e-9)
    assert 0.01 < 1 - below < 0.05  # 4 expected, 9 seen: yellow, not red
    assert validation.light(validation.binomial_p(9, 200, 0.02)) == "yellow"
    assert validation.binomial_p(0, 200, 0.02) == 1.0


def test_jeffreys_interval_and_p_value_use_beta_half_half() -> None:
    interval = validation.jeffreys_interval(9, 200)
    assert interval.low == pytest.approx(beta.ppf(0.025, 9.5, 191.5))
    assert interval.high == pytest.approx(beta.ppf(0.975, 9.5, 191.5))
    assert interval.low < 9 / 200 < interval.high
    assert validation.jeffreys_p(9, 200, 0.02) == pytest.approx(beta.cdf(0.02, 9.5, 191.5))
    # the Jeffreys p-value is about the binomial mid-p: it sits below the exact tail here
    assert validation.jeffreys_p(9, 200, 0.02) < validation.binomial_p(9, 200, 0.02)


def test_jeffreys_interval_contains_zero_and_all_defaults() -> None:
    none = validation.jeffreys_interval(0, 17)
    assert none.low == 0.0
    assert none.high == pytest.approx(beta.ppf(0.975, 0.5, 17.5))
    every = validation.jeffreys_interval(5, 5)
    assert every.high == 1.0
    assert every.low == pytest.approx(beta.ppf(0.025, 5.5, 0.5))


def test_traffic_lights_at_documented_thresholds() -> None:
    assert [validation.light(p) for p in (0.2, 0.05, 0.049, 0.01, 0.0099)] == [
        "green", "green", "yellow", "yellow", "red",
    ]  # fmt: skip


def test_delong_on_a_hand_example() -> None:
    # pairs (bad > good): 0.9 beats 3 goods, 0.4 beats 2 -> AUC 5/6.
    # V10 = [1, 2/3] -> var 1/18, /2 bads; V01 = [1/2, 1, 1] -> var 1/6, /3 goods: total 1/18.
    area, variance = validation.delong(Y, SCORE)
    assert area == pytest.approx(5 / 6)
    assert variance == pytest.approx(1 / 18)


def test_delong_ties_count_one_half() -> None:
    area, _ = validation.delong([1, 0], [0.3, 0.3])
    assert area == pytest.approx(0.5)


def test_ks_on_a_hand_example() -> None:
    # ascending: .1 g, .2 g, .4 b, .5 g, .9 b; goods' CDF 1/3, 2/3 before the first bad: KS 2/3
    result = validation.discrimination(Y, SCORE)
    assert result.ks == pytest.approx(2 / 3)
    assert result.gini == pytest.approx(2 / 3)
    assert result.auc_ci is not None
    assert result.auc_ci.low <= 5 / 6 <= result.auc_ci.high


def test_discrimination_interval_narrows_with_data_and_is_seeded() -> None:
    rng = np.random.default_rng(3)
    y = rng.binomial(1, 0.1, 4000)
    score = y * 0.8 + rng.normal(size=4000)
    big, small = (
        validation.discrimination(y, score),
        validation.discrimination(y[:400], score[:400]),
    )
    assert big.auc_ci is not None
    assert small.auc_ci is not None
    assert big.ks_ci is not None
    assert big.auc_ci.high - big.auc_ci.low < small.auc_ci.high - small.auc_ci.low
    assert big.ks_ci.low < (big.ks or 0) < big.ks_ci.high
    assert validation.discrimination(y, score) == big


def test_discrimination_without_defaults_says_so() -> None:
    result = validation.discrimination([0, 0, 0], [0.1, 0.2, 0.3])
    assert result.auc is None
    assert result.note


def test_by_segment_keeps_missing_values_apart() -> None:
    frame = pd.DataFrame(
        {"label": [*Y, 1, 0], "pd": [*SCORE, 0.7, 0.2], "kind": ["a"] * 5 + [None, None]}
    )
    parts = validation.by_segment(frame, "kind")
    assert [(p.value, p.n) for p in parts] == [("(missing)", 2), ("a", 5)]
    assert parts[1].auc == pytest.approx(5 / 6)


def test_calibration_by_grade_and_hosmer_lemeshow_by_hand() -> None:
    scale = MasterScale(upper_pd=(0.05, 1.0), labels=("A", "B"))
    # grade A: 100 loans at PD 0.02, 4 defaults; grade B: 50 loans at PD 0.2, 10 defaults
    y = np.r_[np.ones(4), np.zeros(96), np.ones(10), np.zeros(40)]
    pds = np.r_[np.full(100, 0.02), np.full(50, 0.2)]
    result = validation.calibration(y, pds, scale)
    a, b = result.grades
    assert (a.grade, a.loans, a.defaults, a.observed_rate) == ("A", 100, 4, 0.04)
    assert a.mean_pd == pytest.approx(0.02)
    below = sum(math.comb(100, k) * 0.02**k * 0.98 ** (100 - k) for k in range(4))
    assert a.binomial_p == pytest.approx(1 - below)
    assert b.binomial_light == "green"
    # HL: A (4 - 2)^2 / (2 * 0.98) = 2.0408...; B (10 - 10)^2 / ... = 0
    hl = result.hosmer_lemeshow
    assert hl is not None
    assert hl.statistic == pytest.approx(4 / 1.96)
    assert hl.df == 2
    assert hl.p_value == pytest.approx(math.exp(-hl.statistic / 2))  # chi2(2) survival


def test_calibration_refuses_misaligned_input() -> None:
    with pytest.raises(InvalidInput):
        validation.calibration([0, 1], [0.1], MasterScale((1.0,), ("A",)))


def test_migration_matrix_on_a_hand_made_panel() -> None:
    start = pd.Series({"e1": "A", "e2": "A", "e3": "B", "e4": "B", "e5": "C", "e6": "A"})
    end = pd.Series({"e1": "A", "e2": "B", "e3": "B", "e4": "C", "e5": "C", "e7": "A"})
    result = migration(start, end, ["A", "B", "C"], ("2024-01-01", "2025-01-01"))
    assert result.counts == [[1, 1, 0], [0, 1, 1], [0, 0, 1]]
    assert result.row_shares == [[0.5, 0.5, 0.0], [0.0, 0.5, 0.5], [0.0, 0.0, 1.0]]
    assert (result.entities, result.only_start, result.only_end) == (5, 1, 1)
    assert result.stayed == pytest.approx(3 / 5)


def test_migration_refuses_unknown_grades() -> None:
    with pytest.raises(InvalidInput):
        migration(pd.Series({"e": "Z"}), pd.Series({"e": "A"}), ["A"], ("a", "b"))


def test_herfindahl_of_a_known_distribution() -> None:
    result = concentration(["A", "A", "A", "B"], ["A", "B", "C"])
    assert result.shares == {"A": 0.75, "B": 0.25, "C": 0.0}
    assert result.hhi == pytest.approx(0.625)
    assert result.hhi_normalised == pytest.approx((0.625 - 1 / 3) / (2 / 3))


def test_overrides_by_direction() -> None:
    loans = pd.DataFrame(
        {
            "decision": ["approve", "approve", "approve", "decline", "approve", "refer"],
            "limit_cny": [100_000.0, 100_000.0, 100_000.0, 0.0, 50_000.0, 80_000.0],
            "granted_amount_cny": [100_500.0, 150_000.0, 60_000.0, 30_000.0, 50_000.0, 20_000.0],
            "label": [0, 1, np.nan, 1, 0, 0],
        }
    )
    result = overrides(loans)
    rows = {r.direction: r for r in result.directions}
    assert (result.linked_loans, result.overridden) == (6, 4)
    assert result.override_rate == pytest.approx(4 / 6)
    assert (rows["none"].loans, rows["up"].loans, rows["down"].loans) == (2, 1, 2)
    assert rows["declined_granted"].default_rate == 1.0
    assert (rows["down"].matured, rows["down"].defaults) == (1, 0)


def test_monotonicity_holds_for_a_constrained_model_and_catches_a_wrong_direction(
    trained_platform: Any, platform_frame: pd.DataFrame
) -> None:
    model = trained_platform.model
    sample = platform_frame.iloc[:300]
    declared = dict(zip(model.spec.names, model.spec.monotone, strict=True))
    checks = monotonicity(model, sample, declared)
    assert len(checks) == len(model.spec.names)
    assert all(c.agrees for c in checks)
    assert sum(c.violations for c in checks) == 0  # LightGBM's constraints hold in behaviour
    raised = {n: _raised(model, sample, n) for n, d in declared.items() if d == 1}
    name = max(raised, key=lambda n: raised[n])  # the +1 input whose rise moves most PDs
    flipped = monotonicity(model, sample, declared | {name: -1})
    wrong = next(c for c in flipped if c.feature == name)
    assert not wrong.agrees
    assert wrong.violations == raised[name] > 0


def _raised(model: Any, sample: pd.DataFrame, name: str) -> int:
    """Rows whose PD rises when `name` rises by one standard deviation (computed directly)."""
    step = float(sample[name].std(ddof=0)) or 1.0  # as the check: population s.d.
    moved = model.predict_proba(sample.assign(**{name: sample[name] + step}))
    rises = moved - model.predict_proba(sample) > 1e-12
    return int(rises[sample[name].notna().to_numpy()].sum())


def test_paired_delong_on_a_hand_example() -> None:
    # score A as above (AUC 5/6); score B ranks the goods above both bads except 0.1 (AUC 2/6).
    # Differences of components: V10 [1, 2/3] - [1/3, 1/3] = [2/3, 1/3]: var 1/18, /2 = 1/36;
    # V01 [1/2, 1, 1] - [0, 1, 0] = [1/2, 0, 1]: var 1/4, /3 = 1/12; total 1/9.
    other = np.array([0.3, 0.2, 0.9, 0.1, 0.8])
    a, b, variance = validation.delong_paired(Y, SCORE, other)
    assert (a, b) == (pytest.approx(5 / 6), pytest.approx(2 / 6))
    assert variance == pytest.approx(1 / 9)
    same = validation.delong_paired(Y, SCORE, SCORE)
    assert same[2] == pytest.approx(0.0)


def test_reason_discordance_counts_pairs_against_the_direction_by_hand() -> None:
    """Increasing feature: raised at 5 and 3, lowered at 1 and 4. Of the 4 (raised, lowered)
    pairs only (3, 4) has the raising value below the lowering one: 1/4."""
    up, down = np.array([5.0, 3.0]), np.array([1.0, 4.0])
    assert discordance(up, down, +1) == 0.25
    # decreasing: a raising value above a lowering one is against it: (5, 1), (5, 4), (3, 1)
    assert discordance(up, down, -1) == 0.75
    # a tie counts half: raised at 2, lowered at 2 and 1 -> (0 + 0.5) / 2
    assert discordance(np.array([2.0]), np.array([2.0, 1.0]), +1) == 0.25
    assert discordance(np.array([2.0]), np.array([]), +1) is None
    assert discordance(up, down, 0) is None


def test_reason_lights_follow_the_documented_limits() -> None:
    assert [reason_light(s) for s in (0.0, 0.01, 0.0101, 0.05, 0.2, None)] == [
        "green", "green", "yellow", "yellow", "red", "n/a",
    ]  # fmt: skip
