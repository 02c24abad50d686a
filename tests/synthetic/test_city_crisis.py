"""The city-wide crisis jump: every entity's health falls in its month, then recovers."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from catalog.errors import InvalidPlatformData
from synthetic.config import SynthConfig
from synthetic.health import CRISIS_DECAY, draw_shocks


def test_no_city_crisis_by_default() -> None:
    assert not draw_shocks(SynthConfig(entities=1_000)).crisis.any()


def test_the_city_crisis_jumps_in_its_month_and_decays_like_any_crisis() -> None:
    config = SynthConfig(entities=1_000, city_crisis_date=dt.date(2024, 10, 15))
    path = draw_shocks(config).crisis
    month = 45  # history 2021-01 .. 2025-12
    assert not path[:month].any()
    assert path[month:] == pytest.approx(-0.6 * CRISIS_DECAY ** np.arange(60 - month))
    same = draw_shocks(SynthConfig(entities=1_000))
    assert np.array_equal(same.macro, draw_shocks(config).macro)  # nothing else moves


def test_a_city_crisis_outside_the_history_is_refused() -> None:
    with pytest.raises(InvalidPlatformData):
        draw_shocks(SynthConfig(entities=1_000, city_crisis_date=dt.date(2019, 1, 1)))
