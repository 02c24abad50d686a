"""Calibration in the large per proxy value: the gate's check on proxy-labelled declines.

The gate labels declined applicants without a loan by a draw from the default rate at their
platform proxy value (`training.reject_inference.rates_from`), so within a proxy value the
labels are flat: they say nothing about how a model ranks those declines, only about their
level. The check asks exactly that: for each proxy value, the model's mean PD over the
declines lies inside the two-sided Jeffreys interval of the rate the labels were drawn from
(defaults and loans of its source: the bank's test loans to declined applicants, else its
loans). The interval is wide where the source is small, narrow where it is large.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import beta


def jeffreys(defaults: int, loans: int, level: float) -> tuple[float, float]:
    """Two-sided Jeffreys interval of a default rate (defaults of loans)."""
    tail = (1 - level) / 2
    low = 0.0 if defaults == 0 else float(beta.ppf(tail, defaults + 0.5, loans - defaults + 0.5))
    high = (
        1.0
        if defaults == loans
        else float(beta.ppf(1 - tail, defaults + 0.5, loans - defaults + 0.5))
    )
    return low, high


def by_proxy(
    pd_: np.ndarray, proxy: np.ndarray, counts: dict[int, tuple[int, int]], level: float
) -> tuple[bool, float, str]:
    """Passed, the largest distance of a mean PD outside its interval (0: inside), the detail."""
    gaps, parts = [], []
    for value in sorted({int(v) for v in proxy}):
        bad, n = counts.get(value, (0, 0))
        if not n:
            continue
        mean = float(np.mean(pd_[proxy == value]))
        low, high = jeffreys(bad, n, level)
        gaps.append(max(low - mean, mean - high, 0.0))
        parts.append(
            f"proxy {value}: mean PD {mean:.4f} vs {bad}/{n:,} = {bad / n:.4f} "
            f"[{low:.4f}, {high:.4f}]"
        )
    gap = max(gaps, default=0.0)
    detail = "(" + "; ".join(parts) + f"; Jeffreys {level:.0%})" if parts else "(no source loans)"
    return gap <= 0.0, gap, detail
