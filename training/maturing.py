"""Maturing labels: loans younger than 12 months train through censoring weights.

A loan observed for m < 12 months is censored: if it defaulted within those months its label
is known (1); if it still performs, it may yet default. The discrete-time hazard by months on
book, estimated over all the bank's loans (matured and maturing, Kaplan-Meier),

    h(t) = defaults in month t / loans at risk at the start of month t,   S(t) = prod_{k<=t} (1 - h(k)),

gives a performing loan's chance to reach month 12 without default, S(12) / S(m). Such a loan
enters training twice: as a good weighted S(12) / S(m) and as a default weighted the rest, so
the newest year counts with the weight its evidence carries. Early stopping, calibration and
the gate's out-of-time loans stay on whole 12-month windows.

Early delinquency (`early_delinquency`) sharpens that weight with the DPD history: a loan
performing after m >= 3 months is read at its checkpoint (month 6 if m >= 6, else month 3)
for 30+ DPD. Its chance to default by month 12 is then taken from the matured loans that were
also performing after m months and had the same checkpoint status,

    p(m, s) = (defaults by month 12 + PRIOR_LOANS x (1 - S(12)/S(m))) / (loans + PRIOR_LOANS),

the censoring estimate acting as a prior worth PRIOR_LOANS loans. An immature loan already
30+ DPD is a strong bad signal; one never behind a weaker good signal than the survival alone
gives. A loan without a DPD history, or younger than 3 months, keeps its censoring weight.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from models.pd_model import WEIGHT_COLUMN
from training.dataset import HORIZON_MONTHS

Method = Literal["none", "censoring", "early_delinquency"]
METHODS: tuple[Method, ...] = ("none", "censoring", "early_delinquency")
EARLY_DPD = 30  # days past due that count as early delinquency
CHECKPOINTS = (3, 6)  # months on book at which early delinquency is read
PRIOR_LOANS = 2.0  # weight of the censoring estimate in each (months, status) cell
EARLY = "early_delinquent"  # column: 1.0 / 0.0 at the loan's checkpoint, NaN unknown


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


def checkpoint(months_observed: float) -> int:
    """The month on book early delinquency is read at (0: too young to read)."""
    passed = [k for k in CHECKPOINTS if months_observed >= k]
    return passed[-1] if passed else 0


def early_delinquent(history: Sequence[int] | None, months_observed: float) -> float:
    """1.0 if the loan was 30+ DPD by its checkpoint, 0.0 if not, NaN if unknown."""
    k = checkpoint(months_observed)
    if not k or history is None or len(history) < k:
        return float("nan")
    return float(max(history[:k]) >= EARLY_DPD)


EarlyTable = dict[tuple[int, float], float]


def early_table(
    matured: pd.DataFrame, s: npt.NDArray[np.float64], horizon: int = HORIZON_MONTHS
) -> EarlyTable:
    """p(m, status): chance to default by month 12 of a loan performing after m months.

    `matured` holds `default_month` (NaN: no default within 12 months) and `dpd_history` of
    loans whose 12 months have passed; those without a history are left out.
    """
    month = matured["default_month"].to_numpy(dtype=np.float64)
    histories = matured["dpd_history"].tolist()
    table: EarlyTable = {}
    for m in range(CHECKPOINTS[0], horizon):
        status = np.array([early_delinquent(h, m) for h in histories], dtype=np.float64)
        at_risk = np.isnan(month) | (month > m)
        prior = 1.0 - (s[horizon] / s[m] if s[m] > 0 else 0.0)
        for flag in (0.0, 1.0):
            cell = at_risk & (status == flag)
            bad = int((cell & ~np.isnan(month)).sum())
            table[(m, flag)] = (bad + PRIOR_LOANS * prior) / (int(cell.sum()) + PRIOR_LOANS)
    return table


def _survive(
    maturing: pd.DataFrame, s: npt.NDArray[np.float64], early: EarlyTable | None
) -> npt.NDArray[np.float64]:
    """Each loan's chance to reach month 12 without default, given what was seen of it."""
    seen = np.clip(maturing["months_observed"].to_numpy(dtype=np.int64), 0, len(s) - 1)
    keep = np.divide(s[-1], s[seen], out=np.zeros(len(seen)), where=s[seen] > 0)
    if early is None or EARLY not in maturing:
        return np.asarray(keep, dtype=np.float64)
    status = maturing[EARLY].to_numpy(dtype=np.float64)
    p_bad = [early.get((int(m), float(f))) for m, f in zip(seen, status, strict=True)]
    return np.array([k if p is None else 1.0 - p for k, p in zip(keep, p_bad, strict=True)])


def censored_rows(
    maturing: pd.DataFrame, s: npt.NDArray[np.float64], early: EarlyTable | None = None
) -> pd.DataFrame:
    """Maturing loans as weighted training rows.

    `maturing` holds `months_observed` and `label` (1: defaulted within them), and with `early`
    the column EARLY. A default is one row of weight 1; a performing loan a good weighted its
    chance to survive (S(12)/S(m), or 1 - p(m, status) when its checkpoint status is known)
    and a default the rest.
    """
    bad = maturing["label"].to_numpy(dtype=np.int64) == 1
    keep = _survive(maturing, s, early)
    defaults = maturing[bad].assign(label=1, **{WEIGHT_COLUMN: 1.0})
    performing = maturing[~bad]
    goods = performing.assign(label=0, **{WEIGHT_COLUMN: keep[~bad]})
    may_default = performing.assign(label=1, **{WEIGHT_COLUMN: 1.0 - keep[~bad]})
    may_default = may_default[may_default[WEIGHT_COLUMN] > 0]
    rows: pd.DataFrame = pd.concat([defaults, goods, may_default], ignore_index=True)
    return rows
