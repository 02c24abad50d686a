"""Loan outcomes realised from a synthetic platform's ground truth (tests and the simulation).

On the synthetic platform `truth_monthly.pd_12m` is each entity's true 12-month default
probability. A loan applied for in month m defaults with that probability (one seeded draw
per loan), on a day within its 12-month window; its observation covers the whole window, so
every realised loan is mature 12 months after application.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from catalog.errors import InvalidInput
from catalog.store import Connection

WINDOW_DAYS = 365
FIRST_DEFAULT_DAY = 90  # 90 days past due is the earliest a default can be declared


def true_pd(con: Connection, loans: pd.DataFrame) -> np.ndarray:
    """The true 12-month PD of each loan's entity in its application month (NaN: unknown).

    One value per loan, in order.
    """
    keys = pd.DataFrame(
        {
            "uscc": loans["uscc"].astype(str),
            "month": pd.to_datetime(loans["application_date"]).dt.to_period("M").dt.to_timestamp(),
            "_row": np.arange(len(loans)),
        }
    )
    con.register("_loan_keys", keys)
    try:
        # A duplicated code (two registrations sharing one code, DOMAIN) has two truth rows:
        # the loan takes the riskier, one row per loan whatever the platform holds.
        rows = con.execute("""
            SELECT k._row, max(t.pd_12m) FROM _loan_keys k LEFT JOIN truth_monthly t
              ON t.uscc = k.uscc AND t.month = CAST(k.month AS DATE)
             GROUP BY k._row ORDER BY k._row
        """).fetchall()
    finally:
        con.unregister("_loan_keys")
    return np.array([np.nan if p is None else p for _, p in rows], dtype=np.float64)


def realise(con: Connection, loans: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Outcome reports for `loans` (loan_id, uscc, application_date, amount_cny), one per loan."""
    pds = true_pd(con, loans)
    if np.isnan(pds).all():
        raise InvalidInput(
            "this store has no ground truth (truth_monthly): not a synthetic platform"
        )
    rng = np.random.default_rng(seed)
    defaulted = rng.random(len(loans)) < np.nan_to_num(pds, nan=0.0)
    offsets = rng.integers(FIRST_DEFAULT_DAY, WINDOW_DAYS, len(loans))
    start = pd.to_datetime(loans["application_date"])
    default_date = (start + pd.to_timedelta(offsets, unit="D")).dt.date
    return pd.DataFrame(
        {
            "loan_id": loans["loan_id"].astype(str),
            "uscc": loans["uscc"].astype(str),
            "application_date": start.dt.date,
            "granted_amount_cny": loans["amount_cny"].astype(float),
            "drawn_amount_cny": loans["amount_cny"].astype(float),
            "default_flag": defaulted,
            "default_date": [
                d if hit else None for d, hit in zip(default_date, defaulted, strict=True)
            ],
            "max_dpd": np.where(defaulted, 90, 0),
            "observation_date": (start + pd.DateOffset(months=12)).dt.date,
            "true_pd": pds,
        }
    )
