"""Maturing labels on a hand-made panel: months on book, hazard, survival, censoring weights."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from catalog import store
from models.pd_model import WEIGHT_COLUMN
from training import maturing
from training.dataset import store_end
from training.retrain import RetrainInput, _maturing

# Five loans: A defaults in month 3, B in month 9, C and D perform 12 months, E is 6 months old.
OBSERVED = [12, 12, 12, 12, 6]
DEFAULT_MONTH = [3, 9, np.nan, np.nan, np.nan]


def test_whole_months_count_once_the_day_of_month_is_reached() -> None:
    start = pd.Series(pd.to_datetime(["2024-01-15", "2024-01-15", "2024-01-31"]))
    end = pd.Series(pd.to_datetime(["2024-07-14", "2024-07-15", "2024-02-29"]))
    assert maturing.months_between(start, end).tolist() == [5, 6, 0]


def test_the_hazard_counts_defaults_over_loans_still_at_risk() -> None:
    h = maturing.hazard(OBSERVED, DEFAULT_MONTH)
    expected = np.zeros(12)
    expected[2] = 1 / 5  # month 3: all five at risk
    expected[8] = 1 / 3  # month 9: A defaulted, E left after month 6
    assert h == pytest.approx(expected)
    s = maturing.survival(h)
    assert s[0] == 1.0
    assert s[6] == pytest.approx(0.8)
    assert s[12] == pytest.approx(0.8 * 2 / 3)


def test_a_performing_young_loan_is_a_good_weighted_by_its_chance_to_survive() -> None:
    s = maturing.survival(maturing.hazard(OBSERVED, DEFAULT_MONTH))
    young = pd.DataFrame({"loan": ["E", "F"], "months_observed": [6, 4], "label": [0, 1]})
    rows = maturing.censored_rows(young, s)
    got = {(r.loan, r.label): getattr(r, WEIGHT_COLUMN) for r in rows.itertuples()}
    assert got == pytest.approx({("F", 1): 1.0, ("E", 0): 2 / 3, ("E", 1): 1 / 3})


# Six matured loans with DPD histories: A defaults in month 5 after 30+ DPD by month 3, B was
# 35 DPD in month 2 and cured, C and D never fell behind, E defaulted in month 2, F sent none.
MATURED = pd.DataFrame(
    {
        "loan": list("ABCDEF"),
        "default_month": [5, np.nan, np.nan, np.nan, 2, np.nan],
        "dpd_history": [
            [0, 0, 31, 60, 90, 120, 150, 180, 210, 240, 270, 300],
            [0, 35, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            [0] * 12,
            [0] * 12,
            [20, 50, 80, 110, 140, 170, 200, 230, 260, 290, 320, 350],
            None,
        ],
    }
)


def test_early_delinquency_is_read_at_the_checkpoint_the_loan_has_reached() -> None:
    assert maturing.checkpoint(2) == 0
    assert maturing.checkpoint(3) == 3
    assert maturing.checkpoint(5) == 3
    assert maturing.checkpoint(6) == 6
    assert np.isnan(maturing.early_delinquent([0, 40], 2))  # too young
    assert np.isnan(maturing.early_delinquent(None, 6))  # no history
    assert maturing.early_delinquent([0, 0, 30, 0], 4) == 1.0
    assert maturing.early_delinquent([0, 0, 29, 60], 4) == 0.0  # 60 DPD came after month 3
    assert maturing.early_delinquent([0, 0, 29, 60, 0, 0], 6) == 1.0


def test_the_early_table_is_calibrated_on_matured_loans_still_performing() -> None:
    s = maturing.survival(maturing.hazard([12] * 6, MATURED["default_month"]))
    assert s[3] == pytest.approx(5 / 6)
    assert s[12] == pytest.approx(4 / 6)
    table = maturing.early_table(MATURED, s)
    # month 3: A (bad, 30+), B (good, 30+), C and D (good, not); E already defaulted, F unknown;
    # the censoring prior 1 - S(12)/S(3) = 1/5 counts as 2 loans
    assert table[(3, 1.0)] == pytest.approx((1 + 2 * 0.2) / (2 + 2))
    assert table[(3, 0.0)] == pytest.approx((0 + 2 * 0.2) / (2 + 2))
    # month 6: A defaulted in month 5; no default after month 6, so the prior is 0
    assert table[(6, 1.0)] == 0.0
    assert table[(6, 0.0)] == 0.0


def test_a_young_loan_already_behind_weighs_as_the_matured_ones_that_were() -> None:
    s = maturing.survival(maturing.hazard([12] * 6, MATURED["default_month"]))
    table = maturing.early_table(MATURED, s)
    young = pd.DataFrame(
        {
            "loan": ["behind", "current", "too_young", "no_history"],
            "months_observed": [4, 4, 2, 5],
            "label": 0,
            maturing.EARLY: [1.0, 0.0, np.nan, np.nan],
        }
    )
    rows = maturing.censored_rows(young, s, table)
    got = {(r.loan, r.label): getattr(r, WEIGHT_COLUMN) for r in rows.itertuples()}
    assert got == pytest.approx(
        {
            ("behind", 0): 0.65,  # 1 - p(3, 30+) instead of S(12)/S(4) = 0.8
            ("behind", 1): 0.35,
            ("current", 0): 0.9,
            ("current", 1): 0.1,
            ("too_young", 0): 0.8,  # censoring weight S(12)/S(2)
            ("too_young", 1): 0.2,
            ("no_history", 0): 1.0,  # S(12)/S(5): no default after month 5 among matured loans
        }
    )
    plain = maturing.censored_rows(young, s)  # without the table: censoring weights alone
    assert plain.loc[(plain["loan"] == "behind") & (plain["label"] == 1), WEIGHT_COLUMN].item() == (
        pytest.approx(0.2)
    )


def test_retraining_weighs_young_loans_by_their_early_delinquency(tiny_store: Path) -> None:
    with store.connect(tiny_store, read_only=True) as con:
        codes = [r[0] for r in con.execute("SELECT DISTINCT uscc FROM entities LIMIT 8").fetchall()]
        end = store_end(con)
    old_day, young_day = end - dt.timedelta(days=500), end - dt.timedelta(days=130)
    base = {"tenant_id": "bank_a", "amount_cny": 1e5, "explore": False}
    matured = pd.DataFrame(
        [
            base | {"loan_id": f"m{i}", "uscc": codes[i], "application_date": old_day,
                    "label": int(not np.isnan(m)), "dpd_history": h,
                    "default_date": None if np.isnan(m) else old_day + dt.timedelta(days=31 * m)}
            for i, (m, h) in enumerate(zip(MATURED["default_month"], MATURED["dpd_history"],
                                            strict=True))
        ]
    )  # fmt: skip
    young = pd.DataFrame(
        [
            base | {"loan_id": "behind", "uscc": codes[6], "application_date": young_day,
                    "label": 0, "months_observed": 4.0, "dpd_history": [0, 0, 45, 70],
                    "default_date": None},
            base | {"loan_id": "current", "uscc": codes[7], "application_date": young_day,
                    "label": 0, "months_observed": 4.0, "dpd_history": [0, 0, 0, 0],
                    "default_date": None},
        ]
    )  # fmt: skip
    weights = {}
    for labels in ("censoring", "early_delinquency"):
        job = RetrainInput("bank_a", matured, maturing=young, maturing_labels=labels)
        with store.connect(tiny_store, read_only=True) as con:
            rows = _maturing(con, job)
        assert rows is not None
        assert maturing.EARLY not in rows
        bad = rows[rows["label"] == 1]
        weights[labels] = dict(zip(bad["loan_id"], bad[WEIGHT_COLUMN], strict=True))
    # the hazard counts defaults by whole months from the default dates: its censoring weight is
    # the same for both young loans; early delinquency separates them
    assert weights["censoring"]["behind"] == pytest.approx(weights["censoring"]["current"])
    assert weights["early_delinquency"]["behind"] > weights["censoring"]["behind"]
    assert weights["early_delinquency"]["current"] < weights["censoring"]["current"]
