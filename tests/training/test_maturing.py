"""Maturing labels on a hand-made panel: months on book, hazard, survival, censoring weights."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.pd_model import WEIGHT_COLUMN
from training import maturing

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
