"""Loan outcomes realised from the synthetic ground truth: one report per loan, reproducible."""

from __future__ import annotations

import datetime as dt

import duckdb
import numpy as np
import pandas as pd
import pytest

from catalog.errors import InvalidInput
from synthetic import outcomes


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    """A ground truth where code B is registered twice (a duplicated code) with two PDs."""
    con = duckdb.connect()
    con.execute("CREATE TABLE truth_monthly (uscc VARCHAR, month DATE, pd_12m DOUBLE)")
    con.execute("""INSERT INTO truth_monthly VALUES
        ('A', DATE '2024-03-01', 0.02), ('B', DATE '2024-03-01', 0.10),
        ('B', DATE '2024-03-01', 0.40), ('C', DATE '2024-04-01', 0.90)""")
    return con


def _loans(codes: list[str], day: dt.date = dt.date(2024, 3, 15)) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "loan_id": [f"L{i}" for i in range(len(codes))],
            "uscc": codes,
            "application_date": [day] * len(codes),
            "amount_cny": 100_000.0,
        }
    )


def test_a_duplicated_code_gives_one_outcome_per_loan_at_the_riskier_pd(
    con: duckdb.DuckDBPyConnection,
) -> None:
    loans = _loans(["B", "A", "B", "X"])
    realised = outcomes.realise(con, loans, seed=1)
    assert list(realised["loan_id"]) == ["L0", "L1", "L2", "L3"]
    np.testing.assert_array_equal(realised["true_pd"].to_numpy(), [0.40, 0.02, 0.40, np.nan])
    assert not realised.loc[3, "default_flag"]  # no truth for X: never defaults


def test_outcomes_follow_the_month_and_the_seed(con: duckdb.DuckDBPyConnection) -> None:
    loans = _loans(["C"] * 400, dt.date(2024, 4, 2))
    first, again = outcomes.realise(con, loans, seed=5), outcomes.realise(con, loans, seed=5)
    pd.testing.assert_frame_equal(first, again)
    assert 0.85 < first["default_flag"].mean() < 0.95  # drawn at C's 0.90
    hit = first[first["default_flag"]]
    days = (pd.to_datetime(hit["default_date"]) - pd.Timestamp("2024-04-02")).dt.days
    assert days.between(outcomes.FIRST_DEFAULT_DAY, outcomes.WINDOW_DAYS).all()
    assert (first["observation_date"] == dt.date(2025, 4, 2)).all()


def test_a_store_without_ground_truth_is_refused(con: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(InvalidInput, match="no ground truth"):
        outcomes.realise(con, _loans(["X"]), seed=1)
