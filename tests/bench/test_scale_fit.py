"""The capacity plan's growth fits: known power laws are recovered, bends are seen, no sub-linear tails."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import scale_fit

SIZES = [20_000, 100_000, 300_000, 1_000_000]


@pytest.mark.parametrize(("coefficient", "slope"), [(3e-4, 1.0), (2e-6, 1.3), (5.0, 0.25)])
def test_fit_recovers_a_known_power_law(coefficient: float, slope: float) -> None:
    law = scale_fit.fit([(n, coefficient * n**slope) for n in SIZES])
    assert law.slope == pytest.approx(slope, rel=1e-9)
    assert law.coefficient == pytest.approx(coefficient, rel=1e-9)
    assert (law.low, law.high) == (20_000, 1_000_000)


def test_segments_show_where_a_curve_bends() -> None:
    # a fixed cost of 30 s plus 0.1 ms per entity: flat at first, linear later
    points = [(n, 30 + 1e-4 * n) for n in SIZES]
    slopes = [s.slope for s in scale_fit.segments(points)]
    assert slopes == sorted(slopes)  # steeper with size
    assert slopes[0] < 0.2
    assert 0.5 < slopes[-1] < 1


def test_tail_extrapolates_never_below_linear() -> None:
    points = [(n, 30 + 1e-4 * n) for n in SIZES]  # last segment's slope is below 1
    law = scale_fit.tail(points)
    assert law.slope == 1.0
    assert law(2_000_000) == pytest.approx(2 * (30 + 1e-4 * 1_000_000))
    steep = [(n, 1e-9 * n**1.5) for n in SIZES]
    assert scale_fit.tail(steep).slope == pytest.approx(1.5)
    assert scale_fit.predict(steep, 4_000_000) == pytest.approx(1e-9 * 4_000_000**1.5)


def test_predict_needs_points_and_scales_one_point_linearly() -> None:
    assert scale_fit.predict([], 1_000) is None
    assert scale_fit.predict([(1_000, 2.0)], 3_000) == pytest.approx(6.0)
    with pytest.raises(ValueError, match="two or more"):
        scale_fit.fit([(1_000, 2.0), (1_000, 3.0)])


def test_noise_around_a_linear_law_averages_out() -> None:
    factors = [1.2, 1 / 1.2, 1 / 1.2, 1.2]  # symmetric in log space around n * 1e-3
    points = [(n, 1e-3 * n * f) for n, f in zip(SIZES, factors, strict=True)]
    assert scale_fit.fit(points).slope == pytest.approx(1.0, abs=0.02)  # the fit: near linear
    first, middle, last = (s.slope for s in scale_fit.segments(points))
    assert first < 0.8
    assert middle == pytest.approx(1.0)
    assert last > 1.3
