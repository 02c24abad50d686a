"""The generator's ground truth: tables only a synthetic store has, and the oracle read of them.

The production schema (`catalog.schema`) never declares these tables, so no import, feature,
export or quality check can see them. Only the generator writes them, and only evaluation
against the truth (oracle baselines, realised outcomes, the generator's own tests) reads them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from catalog.schema import USCC, Column, Table
from catalog.store import Connection, scalar


def _c(name: str, dtype: str) -> Column:
    return Column(name, dtype)


TRUTH_MONTHLY = Table(
    "truth_monthly", "truth",
    "GROUND TRUTH of the synthetic platform: latent health, true 12-month PD of a new loan "
    "and sustainable debt capacity per entity and month. No feature may read it.",
    (USCC, _c("month", "DATE"), _c("health", "DOUBLE"), _c("pd_12m", "DOUBLE"),
     _c("capacity_cny", "DOUBLE")),
    ("uscc", "month"),
)  # fmt: skip

TRUTH_DEFECTS = Table(
    "truth_defects", "truth", "GROUND TRUTH: data defects injected by the generator",
    (_c("table_name", "VARCHAR"), _c("defect", "VARCHAR"), _c("ref", "VARCHAR")),
    ("table_name", "defect", "ref"), has_uscc=False,
)  # fmt: skip

TRUTH_TABLES = (TRUTH_MONTHLY, TRUTH_DEFECTS)


def has_truth(con: Connection) -> bool:
    """Whether this store was written by the generator (holds `truth_monthly` with rows)."""
    exists = scalar(
        con, "SELECT count(*) FROM information_schema.tables WHERE table_name = 'truth_monthly'"
    )
    return bool(exists) and bool(scalar(con, "SELECT count(*) > 0 FROM truth_monthly"))


def attach_truth(con: Connection, frame: pd.DataFrame) -> pd.DataFrame:
    """Add `truth_pd` and `truth_capacity` (synthetic stores only) for oracle comparisons.

    Read only for evaluation, never as a feature: the model never sees these columns.
    """
    if not has_truth(con):
        return frame
    keys = frame[["uscc", "as_of"]].assign(_row=np.arange(len(frame)))
    con.register("_truth_keys", keys)
    try:
        truth = con.execute("""
            SELECT k._row, t.pd_12m, t.capacity_cny FROM _truth_keys k LEFT JOIN truth_monthly t
              ON t.uscc = k.uscc AND t.month = date_trunc('month', CAST(k.as_of AS DATE))
            QUALIFY row_number() OVER (PARTITION BY k._row ORDER BY t.pd_12m) = 1 ORDER BY k._row
        """).df()
    finally:
        con.unregister("_truth_keys")
    return frame.assign(
        truth_pd=truth["pd_12m"].to_numpy(), truth_capacity=truth["capacity_cny"].to_numpy()
    )
