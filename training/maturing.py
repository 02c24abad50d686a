"""Maturing labels: loans younger than 12 months train through censoring weights.

A loan observed for m < 12 months is censored: if it defaulted within those months its label
is known (1); if it still performs, it may yet default. The discrete-time hazard by months on
book, estimated over all the bank's loans (matured and maturing, Kaplan-Meier),

    h(t) = defaults in month t / loans at risk at the start of month t,   S(t) = prod_{k<=t} (1 - h(k)),

gives a performing loan's chance to reach month 12 without default, S(12) / S(m). Such a loan
enters training twice: as a good weighted S(12) / S(m) and as a default weighted the rest, so
the newest year counts with the weight its evidence carries. Early stopping, calibration and
the gate's out-of-time loans stay on whole 12-month windows.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from models.pd_model import WEIGHT_COLUMN
from training.dataset import HORIZON_MONTHS

Method = Literal["none", "censoring"]
METHODS: tuple[Method, ...] = ("none", "censoring")


def months_between(start: pd.Series, end: pd.Series) -> npt.NDArray[np.float64]:
    """Whole months from `start` to `end` (a month counts once its day of month is reached);
    NaN where `end` is missing."""
    a, b = pd.to_datetime(start), pd.to_datetime(end)
    months = (b.dt.year - a.dt.year) * 12 + (b.dt.month - a.dt.month)
    return np.asarray(months - (b.dt.day < a.dt.day), dtype=np.float64)


def hazard(
    observed: npt.ArrayLike, default_month: npt.ArrayLike, horizon: int = HORIZON_MONTHS
) -> npt.NDArray[np.float64]:
    """h(1..horizon): defaults in month t over loans at risk at its start.

    `observed`: months each loan was observed (capped at `horizon`); `default_month`: the month
    on book (1-based) it defaulted in, NaN if it did not (within its observed months).
    """
    seen = np.minimum(np.asarray(observed, dtype=np.float64), horizon)
    month = np.asarray(default_month, dtype=np.float64)
    until = np.where(np.isnan(month), seen, np.minimum(month, seen))  # last month at risk
    out = np.zeros(horizon)
    for t in range(1, horizon + 1):
        at_risk = int((until >= t).sum())
        defaults = int((month == t).sum())
        out[t - 1] = defaults / at_risk if at_risk else 0.0
    return out


def survival(h: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """S(0..horizon) from the hazard: S(0) = 1."""
    return np.concatenate([[1.0], np.cumprod(1.0 - h)])


def censored_rows(maturing: pd.DataFrame, s: npt.NDArray[np.float64]) -> pd.DataFrame:
    """Maturing loans as weighted training rows.

    `maturing` holds `months_observed` and `label` (1: defaulted within them). A default is one
    row of weight 1; a performing loan a good weighted S(12)/S(m) and a default the rest.
    """
    bad = maturing["label"].to_numpy(dtype=np.int64) == 1
    seen = np.clip(maturing["months_observed"].to_numpy(dtype=np.int64), 0, len(s) - 1)
    keep = np.divide(s[-1], s[seen], out=np.zeros(len(seen)), where=s[seen] > 0)
    defaults = maturing[bad].assign(label=1, **{WEIGHT_COLUMN: 1.0})
    performing = maturing[~bad]
    goods = performing.assign(label=0, **{WEIGHT_COLUMN: keep[~bad]})
    may_default = performing.assign(label=1, **{WEIGHT_COLUMN: 1.0 - keep[~bad]})
    may_default = may_default[may_default[WEIGHT_COLUMN] > 0]
    rows: pd.DataFrame = pd.concat([defaults, goods, may_default], ignore_index=True)
    return rows
