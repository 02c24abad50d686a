"""Growth curves for the capacity plan: power laws `y = a * n**b` fitted in log-log space.

Pure functions (no I/O), used by `bench_scale.py` to skip sizes beyond the time budget and by
`scale_report.py` to extrapolate; `tests/bench/test_scale_fit.py` checks they recover known laws.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class PowerLaw:
    """`y = coefficient * n ** slope`, fitted on points with `n` from `low` to `high`."""

    coefficient: float
    slope: float
    low: int
    high: int

    def __call__(self, n: float) -> float:
        return self.coefficient * n**self.slope


def fit(points: Sequence[tuple[float, float]]) -> PowerLaw:
    """Least squares of log y on log n (two or more points with positive n and y)."""
    usable = sorted((n, y) for n, y in points if n > 0 and y > 0)
    if len({n for n, _ in usable}) < 2:
        raise ValueError("a power law needs two or more distinct positive sizes")
    xs = [math.log(n) for n, _ in usable]
    ys = [math.log(y) for _, y in usable]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mx) ** 2 for x in xs
    )
    return PowerLaw(math.exp(my - slope * mx), slope, int(usable[0][0]), int(usable[-1][0]))


def segments(points: Sequence[tuple[float, float]]) -> list[PowerLaw]:
    """The log-log slope between each pair of consecutive sizes (where a curve bends)."""
    usable = sorted((n, y) for n, y in points if n > 0 and y > 0)
    return [fit([a, b]) for a, b in itertools.pairwise(usable)]


def tail(points: Sequence[tuple[float, float]]) -> PowerLaw:
    """The law to extrapolate with: the last segment's, never shallower than linear (slope 1)."""
    last = segments(points)[-1]
    if last.slope >= 1:
        return last
    n, y = last.high, last(last.high)
    return PowerLaw(y / n, 1.0, last.low, last.high)


def predict(points: Sequence[tuple[float, float]], n: float) -> float | None:
    """y at n from measured points: the tail law with two sizes, proportional with one."""
    usable = [(a, b) for a, b in points if a > 0 and b > 0]
    if not usable:
        return None
    if len({a for a, _ in usable}) == 1:
        a, b = usable[0]
        return b * n / a
    return tail(usable)(n)
