"""The master scale: grade boundaries, labels, validation and round trips."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from catalog.errors import InvalidInput
from models.grades import DEFAULT_SCALE, MasterScale

PROPERTY = settings(max_examples=200, derandomize=True, deadline=None)
BOUNDS = (0.003, 0.006, 0.01, 0.015, 0.02, 0.03, 0.045, 0.07, 0.12, 1.0)


def test_default_scale_has_ten_labelled_grades() -> None:
    assert DEFAULT_SCALE.upper_pd == BOUNDS
    assert DEFAULT_SCALE.labels == tuple(f"G{i:02d}" for i in range(1, 11))


@pytest.mark.parametrize("index", range(len(BOUNDS)))
def test_pd_exactly_on_a_bound_goes_to_the_lower_grade(index: int) -> None:
    assert DEFAULT_SCALE.grade(np.array([BOUNDS[index]])).tolist() == [index + 1]


@pytest.mark.parametrize("index", range(len(BOUNDS) - 1))
def test_pd_just_above_a_bound_goes_to_the_next_grade(index: int) -> None:
    above = np.nextafter(BOUNDS[index], 1.0)
    assert DEFAULT_SCALE.grade(np.array([above])).tolist() == [index + 2]


def test_extremes_and_labels() -> None:
    pds = np.array([0.0, 0.004, 0.5, 1.0])
    assert DEFAULT_SCALE.grade(pds).tolist() == [1, 2, 10, 10]
    assert DEFAULT_SCALE.label(pds).tolist() == ["G01", "G02", "G10", "G10"]


@PROPERTY
@given(st.lists(st.floats(0.0, 1.0), min_size=1, max_size=50))
def test_higher_pd_never_gets_a_better_grade(pds: list[float]) -> None:
    grades = DEFAULT_SCALE.grade(np.sort(np.array(pds)))
    assert np.all(np.diff(grades) >= 0)
    assert grades.min() >= 1
    assert grades.max() <= len(BOUNDS)


@pytest.mark.parametrize("bad", [np.nan, -0.01, 1.01])
def test_pd_outside_unit_interval_is_invalid(bad: float) -> None:
    with pytest.raises(InvalidInput, match=r"\[0, 1\]"):
        DEFAULT_SCALE.grade(np.array([0.01, bad]))


@pytest.mark.parametrize(
    ("upper", "labels"),
    [
        ((0.01, 0.01, 1.0), ("a", "b", "c")),  # not strictly ascending
        ((0.02, 0.01, 1.0), ("a", "b", "c")),  # descending
        ((0.01, 0.5), ("a", "b")),  # last bound is not 1
        ((0.01, 1.0), ("a",)),  # one label short
        ((0.01, 1.0), ("a", "a")),  # duplicate labels
        ((0.0, 1.0), ("a", "b")),  # empty first grade
        ((), ()),
    ],
)
def test_invalid_scale_is_refused(upper: tuple[float, ...], labels: tuple[str, ...]) -> None:
    with pytest.raises(InvalidInput, match="master scale"):
        MasterScale(upper, labels)


def test_dict_round_trip_through_json() -> None:
    restored = MasterScale.from_dict(json.loads(json.dumps(DEFAULT_SCALE.to_dict())))
    assert restored == DEFAULT_SCALE


@pytest.mark.parametrize(
    "data",
    [{}, {"upper_pd": [0.1, 1.0]}, {"upper_pd": ["x", 1.0], "labels": ["a", "b"]}],
)
def test_malformed_dict_is_invalid_input(data: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        MasterScale.from_dict(data)
