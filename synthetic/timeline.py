"""Month grid and date helpers shared by the generator's stages (numpy datetime64)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synthetic.config import SynthConfig

Days = np.ndarray  # datetime64[D]


@dataclass(frozen=True)
class Timeline:
    """History months m = 0..n-1 ending with the month of the store's end date."""

    first_month: np.datetime64
    n_months: int
    end_date: np.datetime64

    @classmethod
    def of(cls, config: SynthConfig) -> Timeline:
        """The timeline a config describes."""
        last = np.datetime64(config.end_date, "M")
        return cls(
            last - (config.n_months - 1), config.n_months, np.datetime64(config.end_date, "D")
        )

    @property
    def month_starts(self) -> Days:
        """First day of every history month."""
        months = self.first_month + np.arange(self.n_months)
        return months.astype("datetime64[D]")

    def month_start(self, m: np.ndarray) -> Days:
        """First day of history month index `m` (may lie outside the history)."""
        return (self.first_month + m.astype("int64")).astype("datetime64[D]")

    def day_in_month(self, m: np.ndarray, rng: np.random.Generator) -> Days:
        """A random day inside month `m` (days 1-28, valid in every month)."""
        return self.month_start(m) + rng.integers(0, 28, size=len(m))

    def month_index(self, days: Days) -> np.ndarray:
        """History month index of each date."""
        return (days.astype("datetime64[M]") - self.first_month).astype("int64")


def lagged(days: Days, rng: np.random.Generator, late_share: float) -> Days:
    """Ingest dates: a few days after the event, a `late_share` of them months late."""
    lag = rng.geometric(0.12, size=len(days)).astype("int64")
    late = rng.random(len(days)) < late_share
    lag[late] = rng.integers(60, 400, size=int(late.sum()))
    return days + lag
