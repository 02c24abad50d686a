"""Monthly DPD paths of the simulation's loans, consistent with their realised defaults.

A loan that defaults on day D (90 to 364 days after it was drawn, `synthetic.outcomes`) fell
behind 90 days before: its days past due at the end of each month on book are the days since
then, so it passes 30+ DPD about two months before 90+, and keeps rising after the default.
A loan that does not default may fall behind once and cure: with probability CURE_FACTOR x its
true PD (at most CURE_MAX) an episode starts in a month on book 1-11 at 1-31 DPD, and half of
those run one more month (31-61 DPD) before the arrears are paid. So early delinquency is a
strong bad signal, not a certain one, as in a real book.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Hashable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from synthetic.outcomes import FIRST_DEFAULT_DAY

CURE_FACTOR = 3.0
CURE_MAX = 0.5
HORIZON_MONTHS = 12
EPISODE_COLUMNS = ["episode_month", "episode_dpd", "episode_months"]


def episodes(loans: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """A cured episode per loan that does not default (`episode_month` 0: none), seeded."""
    n = len(loans)
    chance = np.clip(
        CURE_FACTOR * np.nan_to_num(loans["true_pd"].to_numpy(dtype=float)), 0, CURE_MAX
    )
    hit = (rng.random(n) < chance) & ~loans["default_flag"].to_numpy(dtype=bool)
    month = rng.integers(1, HORIZON_MONTHS, n)
    first = rng.integers(1, 32, n)
    length = rng.integers(1, 3, n)
    return pd.DataFrame(
        {
            "episode_month": np.where(hit, month, 0),
            "episode_dpd": np.where(hit, first, 0),
            "episode_months": np.where(hit, length, 0),
        },
        index=loans.index,
    )


def _month_ends(application: dt.date, months: int) -> list[pd.Timestamp]:
    start = pd.Timestamp(application)
    return [start + pd.DateOffset(months=k) for k in range(1, months + 1)]


def history(loan: Mapping[Hashable, Any], months: int) -> list[int]:
    """DPD at the end of months on book 1..`months` (a default's path, or its cured episode)."""
    ends = _month_ends(loan["application_date"], months)
    if loan["default_flag"]:
        behind = pd.Timestamp(loan["default_date"]) - pd.Timedelta(days=FIRST_DEFAULT_DAY)
        return [max(0, (end - behind).days) for end in ends]
    path = [0] * months
    start, first = int(loan.get("episode_month") or 0), int(loan.get("episode_dpd") or 0)
    for k in range(int(loan.get("episode_months") or 0)):
        if 0 < start + k <= months:
            path[start + k - 1] = first + 30 * k
    return path


def observed_months(application: dt.date, day: dt.date) -> int:
    """Whole months on book by `day` (at most 12)."""
    start, end = pd.Timestamp(application), pd.Timestamp(day)
    months = (end.year - start.year) * 12 + end.month - start.month - int(end.day < start.day)
    return max(0, min(HORIZON_MONTHS, months))
