"""Evaluation metrics and baselines: hand-computed cases, scikit-learn and SciPy cross-checks."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import ks_2samp
from sklearn.metrics import brier_score_loss, roc_auc_score

from catalog.errors import InvalidInput
from catalog.schema import ENTITY_TYPES, INDUSTRY_SECTIONS
from training import baselines, metrics

Y4 = np.array([0, 0, 1, 1])
S4 = np.array([0.1, 0.4, 0.35, 0.8])


def _labelled(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Known PDs and outcomes drawn from them: a perfectly calibrated sample."""
    rng = np.random.default_rng(seed)
    pd_true = rng.uniform(0.01, 0.2, n)
    return (rng.random(n) < pd_true).astype(int), pd_true


# --- discrimination -------------------------------------------------------------------------


def test_auc_gini_ks_by_hand() -> None:
    assert metrics.auc(Y4, S4) == pytest.approx(0.75)  # 3 of 4 bad-good pairs ordered
    assert metrics.gini(Y4, S4) == pytest.approx(0.5)
    assert metrics.ks(Y4, S4) == pytest.approx(0.5)
    assert metrics.auc([0, 1], [0.5, 0.5]) == pytest.approx(0.5)  # a tie counts one half


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_auc_ks_brier_match_reference_implementations(seed: int) -> None:
    y, p = _labelled(seed, 3_000)
    rounded = np.round(p, 2)  # many ties
    assert metrics.auc(y, rounded) == pytest.approx(roc_auc_score(y, rounded), abs=1e-12)
    assert metrics.brier(y, p) == pytest.approx(brier_score_loss(y, p), abs=1e-12)
    expected_ks = ks_2samp(rounded[y == 1], rounded[y == 0]).statistic
    assert metrics.ks(y, rounded) == pytest.approx(expected_ks, abs=1e-12)


def test_ks_of_perfect_and_constant_scores() -> None:
    y = np.array([0, 0, 0, 1, 1])
    assert metrics.ks(y, y * 0.9 + 0.05) == pytest.approx(1.0)
    assert metrics.ks(y, np.full(5, 0.3)) == pytest.approx(0.0)
    assert metrics.auc(y, np.full(5, 0.3)) == pytest.approx(0.5)


def test_brier_by_hand() -> None:
    assert metrics.brier([0, 1], [0.2, 0.6]) == pytest.approx(0.1)


@pytest.mark.parametrize(
    ("y", "score"),
    [([0, 2], [0.1, 0.2]), ([], []), ([0, 0], [0.1, 0.2]), ([0, 1], [0.1, np.nan])],
)
def test_invalid_inputs_are_refused(y: list[float], score: list[float]) -> None:
    with pytest.raises(InvalidInput):
        metrics.auc(y, score)


# --- calibration ----------------------------------------------------------------------------


def test_calibration_table_and_ece_by_hand() -> None:
    p = np.array([0.1] * 5 + [0.3] * 5)
    y = np.array([1, 0, 0, 0, 0, 1, 1, 0, 0, 0])
    table = metrics.calibration_table(y, p, bins=2)
    assert table["n"].tolist() == [5, 5]
    assert table["mean_pd"].tolist() == pytest.approx([0.1, 0.3])
    assert table["bad_rate"].tolist() == pytest.approx([0.2, 0.4])
    assert table["lower_pd"].tolist() == pytest.approx([0.1, 0.3])
    assert table["upper_pd"].tolist() == pytest.approx([0.1, 0.3])
    assert metrics.ece(y, p, bins=2) == pytest.approx(0.1)


def test_calibration_bins_keep_ties_together() -> None:
    table = metrics.calibration_table([0, 1, 0, 0], np.full(4, 0.2), bins=10)
    assert table["n"].tolist() == [4]


def test_ece_near_zero_when_calibrated_and_large_when_not() -> None:
    y, p = _labelled(11, 200_000)
    assert metrics.ece(y, p) < 0.005
    assert metrics.ece(y, p / 2) > 0.03
    assert metrics.ece(y, np.minimum(p * 3, 1.0)) > 0.1


# --- stability ------------------------------------------------------------------------------


def test_psi_reference_edges() -> None:
    rng = np.random.default_rng(3)
    edges = metrics.psi_reference(rng.normal(size=10_000))
    assert edges[0] == -np.inf
    assert edges[-1] == np.inf
    assert edges.size == 11
    assert np.all(np.diff(edges) > 0)
    zero_inflated = np.where(rng.random(10_000) < 0.6, 0.0, rng.exponential(1.0, 10_000))
    assert 0.0 in metrics.psi_reference(zero_inflated)  # the mass point is a cut: its own bin
    assert metrics.psi_reference([np.nan, np.nan]).tolist() == [-np.inf, np.inf]


def test_psi_by_hand() -> None:
    edges = np.array([-np.inf, 2.0, np.inf])
    # reference shares 1/2, 1/2; actual 3/4, 1/4; the NaN bin is empty on both sides
    expected = 0.25 * math.log(1.5) - 0.25 * math.log(0.5)
    assert metrics.psi([1, 2, 3, 4], [1, 1, 1, 3], edges) == pytest.approx(expected)


def test_psi_same_and_shifted_distributions() -> None:
    rng = np.random.default_rng(5)
    reference = rng.normal(size=50_000)
    assert metrics.psi(reference, rng.normal(size=50_000)) < 0.01
    assert metrics.psi(reference, rng.normal(1.0, 1.0, 50_000)) > metrics.PSI_SHIFT


def test_psi_gives_missing_values_their_own_bin() -> None:
    rng = np.random.default_rng(6)
    reference, actual = rng.normal(size=20_000), rng.normal(size=20_000)
    actual[:6_000] = np.nan
    assert metrics.psi(reference, actual) > metrics.PSI_SHIFT
    reference[:6_000] = np.nan
    assert metrics.psi(reference, actual) < 0.01


def test_psi_refuses_edges_without_open_ends() -> None:
    with pytest.raises(InvalidInput):
        metrics.psi([1.0, 2.0], [1.0, 2.0], edges=[0.0, 1.0, 2.0])


# --- decisions ------------------------------------------------------------------------------


def test_grade_table_by_hand() -> None:
    table = metrics.grade_table(
        y=[0, 1, 0, 0],
        pd=[0.1, 0.3, 0.02, 0.04],
        grades=["B", "B", "A", "A"],
        approved=[True, False, True, True],
    )
    assert table.index.tolist() == ["A", "B"]
    assert table["n"].tolist() == [2, 2]
    assert table["share"].tolist() == pytest.approx([0.5, 0.5])
    assert table["bad_rate"].tolist() == pytest.approx([0.0, 0.5])
    assert table["mean_pd"].tolist() == pytest.approx([0.03, 0.2])
    assert table["approval_rate"].tolist() == pytest.approx([1.0, 0.5])


@pytest.mark.parametrize(
    ("bad_rate", "n_approved", "realised"),
    [(0.0, 2, 0.0), (0.25, 4, 0.25), (0.35, 6, 1 / 3), (1.0, 6, 1 / 3)],
)
def test_approvals_at_bad_rate_by_hand(bad_rate: float, n_approved: int, realised: float) -> None:
    # cumulative bad rates, lowest score first: 0, 0, 1/3, 1/4, 2/5, 1/3
    y, score = [0, 0, 1, 0, 1, 0], [1, 2, 3, 4, 5, 6]
    out = metrics.approvals_at_bad_rate(y, score, bad_rate)
    assert out["n_approved"] == n_approved
    assert out["approval_rate"] == pytest.approx(n_approved / 6)
    assert out["bad_rate"] == pytest.approx(realised)


def test_approvals_never_split_a_tie() -> None:
    out = metrics.approvals_at_bad_rate([0, 1, 0], [1.0, 1.0, 2.0], 0.0)
    assert out["n_approved"] == 0
    assert out["approval_rate"] == 0.0
    assert math.isnan(out["bad_rate"])


def test_summary_keys_and_values() -> None:
    y, p = _labelled(8, 5_000)
    out = metrics.summary(y, p)
    assert set(out) == {"auc", "ks", "gini", "brier", "ece", "n_rows", "n_bads", "bad_rate"}
    assert out["gini"] == pytest.approx(2 * out["auc"] - 1)
    assert (out["n_rows"], out["n_bads"]) == (5_000, y.sum())
    assert out["bad_rate"] == pytest.approx(y.mean())


# --- WoE scorecard --------------------------------------------------------------------------


def _scorecard_data(seed: int, n: int) -> tuple[pd.DataFrame, np.ndarray]:
    """A monotone signal, a categorical one, noise, missing values and two unusable columns."""
    rng = np.random.default_rng(seed)
    tax = rng.lognormal(10, 1.5, n)
    age = rng.integers(0, 240, n).astype(float)
    sector = rng.integers(0, 5, n).astype(float)
    logit = -2.5 - 0.8 * (np.log(tax) - 10) - 0.01 * (age - 120) + 0.4 * (sector == 3)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    tax[rng.random(n) < 0.1] = np.nan
    frame = pd.DataFrame(
        {
            "tax": tax,
            "age": age,
            "sector": sector,
            "noise": rng.normal(size=n),
            "all_missing": np.nan,
            "constant": 1.0,
        }
    )
    return frame, y


@pytest.fixture(scope="module")
def scorecard_data() -> tuple[pd.DataFrame, np.ndarray]:
    return _scorecard_data(21, 4_000)


def test_scorecard_beats_random_and_drops_unusable_columns(
    scorecard_data: tuple[pd.DataFrame, np.ndarray],
) -> None:
    frame, y = scorecard_data
    card = baselines.fit_scorecard(frame[:3_000], y[:3_000], ["sector"], seed=1)
    assert set(card.dropped) == {"all_missing", "constant"}
    assert card.features == ("tax", "age", "sector", "noise")
    pd_test = card.predict_proba(frame[3_000:])
    assert pd_test.shape == (1_000,)
    assert np.all((pd_test > 0) & (pd_test < 1))
    assert metrics.auc(y[3_000:], pd_test) > 0.7


def test_scorecard_is_deterministic(scorecard_data: tuple[pd.DataFrame, np.ndarray]) -> None:
    frame, y = scorecard_data
    first = baselines.fit_scorecard(frame, y, ["sector"], seed=3).predict_proba(frame)
    second = baselines.fit_scorecard(frame, y, ["sector"], seed=3).predict_proba(frame)
    np.testing.assert_array_equal(first, second)


def test_scorecard_points_scale(scorecard_data: tuple[pd.DataFrame, np.ndarray]) -> None:
    frame, y = scorecard_data
    card = baselines.fit_scorecard(frame, y, ["sector"], seed=0)
    p, points = card.predict_proba(frame[:200]), card.score_points(frame[:200])
    good_bad_odds = (1 - p) / p
    np.testing.assert_allclose(points, 600 + 20 * np.log2(good_bad_odds / 50), rtol=1e-9)
    assert "iv" in card.binning_summary().columns


def test_scorecard_refuses_bad_inputs(scorecard_data: tuple[pd.DataFrame, np.ndarray]) -> None:
    frame, y = scorecard_data
    with pytest.raises(InvalidInput):
        baselines.fit_scorecard(frame[["all_missing", "constant"]], y)
    with pytest.raises(InvalidInput):
        baselines.fit_scorecard(frame, y, ["not_a_column"])
    card = baselines.fit_scorecard(frame[["tax", "age"]], y)
    with pytest.raises(InvalidInput):
        card.predict_proba(frame[["tax"]])


# --- incumbent tax-multiplier rule ----------------------------------------------------------

ELIGIBLE = {
    "tax_grade_latest": 5.0,
    "reg_age_months": 60.0,
    "court_in_force": 0.0,
    "dis_in_force": 0.0,
    "abn_in_force": 0.0,
    "reg_industry": float(INDUSTRY_SECTIONS.index("C")),
    "tax_paid_cny_12m": 50_000.0,
    "tax_paid_cny_24m": 100_000.0,
    "reg_deregistered": 0.0,
    "reg_entity_type": float(ENTITY_TYPES.index("enterprise")),
}


def _rows(*changes: dict[str, float]) -> pd.DataFrame:
    return pd.DataFrame([ELIGIBLE | change for change in changes])


def test_eligible_row_gets_tax_times_multiplier() -> None:
    out = baselines.incumbent_rule(_rows({}))
    assert out.columns.tolist() == ["approved", "limit_cny", "reason", "rule_score"]
    assert bool(out["approved"].iloc[0])
    assert out["reason"].iloc[0] == "approved"
    assert out["limit_cny"].iloc[0] == pytest.approx(100_000 / 2 * 9)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"tax_grade_latest": np.nan}, "tax_grade_unrated"),
        ({"tax_grade_latest": 2.0}, "tax_grade_ineligible"),
        ({"tax_grade_latest": 1.0}, "tax_grade_ineligible"),
        ({"reg_age_months": 23.0}, "too_young"),
        ({"reg_age_months": np.nan}, "too_young"),
        ({"tax_grade_latest": 3.0, "reg_age_months": 11.0}, "too_young"),
        ({"court_in_force": 1.0}, "dishonest_debtor"),
        ({"dis_in_force": 1.0}, "serious_dishonesty"),
        ({"abn_in_force": 1.0}, "abnormal_operations"),
        ({"reg_industry": float(INDUSTRY_SECTIONS.index("J"))}, "excluded_industry"),
        ({"reg_industry": float(INDUSTRY_SECTIONS.index("K"))}, "excluded_industry"),
        ({"reg_industry": float(INDUSTRY_SECTIONS.index("R"))}, "excluded_industry"),
        ({"tax_paid_cny_12m": 0.0}, "no_tax_12m"),
        ({"tax_paid_cny_12m": np.nan}, "no_tax_12m"),
        ({"reg_deregistered": 1.0}, "deregistered"),
        ({"reg_entity_type": np.nan}, "unknown_entity_type"),
        ({"tax_paid_cny_24m": 4_000.0}, "below_min_limit"),  # 2,000 x 9 < 20,000
    ],
)
def test_each_gate_declines(change: dict[str, float], reason: str) -> None:
    out = baselines.incumbent_rule(_rows(change)).iloc[0]
    assert not out["approved"]
    assert out["limit_cny"] == 0.0
    assert out["reason"] == reason


def test_grade_m_needs_one_year_and_every_failed_gate_is_listed() -> None:
    out = baselines.incumbent_rule(
        _rows(
            {"tax_grade_latest": 3.0, "reg_age_months": 12.0},
            {"court_in_force": 1.0, "abn_in_force": 1.0},
        )
    )
    assert out["approved"].tolist() == [True, False]
    assert out["limit_cny"].iloc[0] == pytest.approx(100_000 / 2 * 4)
    assert out["reason"].iloc[1] == "dishonest_debtor;abnormal_operations"


@pytest.mark.parametrize(
    ("grade", "entity_type", "tax_24m", "limit"),
    [
        (5.0, "enterprise", 100_000.0, 450_000.0),
        (4.0, "enterprise", 100_000.0, 300_000.0),
        (3.0, "enterprise", 100_000.0, 200_000.0),
        (5.0, "enterprise", 1e6, 3e6),
        (5.0, "individual", 1e6, 8e5),
        (4.0, "cooperative", 1e6, 2e6),
        (5.0, "rural_collective", 1e6, 2e6),
        (4.0, "individual", 200_000.0, 600_000.0),
    ],
)
def test_limit_is_half_24m_tax_times_multiplier_capped(
    grade: float, entity_type: str, tax_24m: float, limit: float
) -> None:
    row = {
        "tax_grade_latest": grade,
        "tax_paid_cny_24m": tax_24m,
        "reg_entity_type": float(ENTITY_TYPES.index(entity_type)),
    }
    out = baselines.incumbent_rule(_rows(row)).iloc[0]
    assert out["approved"]
    assert out["limit_cny"] == pytest.approx(limit)


def test_rule_score_orders_declined_then_m_b_a_then_less_tax() -> None:
    out = baselines.incumbent_rule(
        _rows(
            {"court_in_force": 1.0},
            {"tax_grade_latest": 3.0, "tax_paid_cny_24m": 1e6},
            {"tax_grade_latest": 4.0, "tax_paid_cny_24m": 50_000.0},
            {"tax_grade_latest": 4.0, "tax_paid_cny_24m": 1e7},
            {"tax_grade_latest": 5.0, "tax_paid_cny_24m": 50_000.0},
            {"tax_grade_latest": 5.0, "tax_paid_cny_24m": 1e8},
            {"reg_deregistered": 1.0, "tax_paid_cny_24m": 1e8},
        )
    )
    score = out["rule_score"].to_numpy()
    assert np.all(np.diff(score[:6]) < 0)
    assert score[6] == score[0]  # the rule does not rank the rows it declines
