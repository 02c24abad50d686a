"""Points, grades and reason candidates for many entities at once (numpy over feature columns).

Every rule's points are in units of the total scale (weight x points / 100 of its dimension).
When a dimension's points are clipped to [0, 100], its rules' points are scaled by the same
factor, so an entity's rule points always add up to its score minus the scale's base points.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from catalog.errors import InvalidInput
from platform_services.evaluation.scale import Scale

Floats = NDArray[np.float64]
REASON_MIN_POINTS = 0.005  # below this a rule did not move the score


@dataclass(frozen=True)
class Scores:
    """Per entity: score, grades, points per dimension and per rule, caps in force."""

    score: Floats
    grade: NDArray[np.int64]  # index into scale.grades (0 = best)
    points_grade: NDArray[np.int64]  # the grade the points alone earn
    cap: NDArray[np.int64]  # index of the binding cap, -1 when none binds
    dimensions: Floats  # entities x dimensions
    rule_points: Floats  # entities x rules (scale.rules order)
    rule_values: Floats  # the feature value each rule read
    caps_hit: NDArray[np.bool_]  # entities x caps
    cap_values: Floats


def _values(frame: pd.DataFrame, feature: str) -> Floats:
    if feature not in frame.columns:
        raise InvalidInput(f"the feature snapshot lacks {feature}; rebuild it with this registry")
    return frame[feature].to_numpy(dtype=np.float64, na_value=np.nan)


def _dimension(frame: pd.DataFrame, scale: Scale, d: int) -> tuple[Floats, Floats, Floats]:
    """Points (total-scale units) of dimension `d`, its rules' points and the values read."""
    dimension = scale.dimensions[d]
    unit = dimension.weight * scale.points / 100.0
    values = np.column_stack(
        [_values(frame, r.feature) for r in dimension.rules] or [np.zeros((len(frame), 0))]
    )
    raw = np.column_stack(
        [r.award(values[:, i]) for i, r in enumerate(dimension.rules)]
        or [np.zeros((len(frame), 0))]
    )
    total = dimension.base + raw.sum(axis=1)
    clipped = np.clip(total, 0.0, 100.0)
    moved = total != clipped
    share = np.divide(
        clipped - dimension.base, total - dimension.base, out=np.ones(len(frame)), where=moved
    )
    return clipped * unit, raw * share[:, None] * unit, values


def _caps(frame: pd.DataFrame, scale: Scale) -> tuple[NDArray[np.bool_], Floats, NDArray[np.int64]]:
    """Which caps are in force, the values read, and the ceiling (grade index) per entity."""
    labels = [g.label for g in scale.grades]
    values = np.column_stack(
        [_values(frame, c.feature) for c in scale.caps] or [np.zeros((len(frame), 0))]
    )
    limits = np.array([c.at_least for c in scale.caps])
    hit = values >= limits[None, :]  # NaN never caps
    ceiling = np.array([labels.index(c.grade) for c in scale.caps], dtype=np.int64)
    worst = np.where(hit, ceiling[None, :], -1)
    return hit, values, worst


def score(frame: pd.DataFrame, scale: Scale) -> Scores:
    """Score and grade every row of a feature frame (snapshot rows) under `scale`."""
    parts = [_dimension(frame, scale, d) for d in range(len(scale.dimensions))]
    dimensions = np.column_stack([p[0] for p in parts])
    total = np.round(dimensions.sum(axis=1), 6)  # float noise never moves a grade boundary
    bounds = np.array([g.min_score for g in scale.grades])
    points_grade = (total[:, None] < bounds[None, :]).sum(axis=1).astype(np.int64)
    hit, cap_values, worst = _caps(frame, scale)
    ceiling = worst.max(axis=1, initial=-1)
    grade = np.maximum(points_grade, ceiling)
    binding = np.where(ceiling > points_grade, np.argmax(worst, axis=1) if worst.size else 0, -1)
    return Scores(
        score=total,
        grade=grade,
        points_grade=points_grade,
        cap=binding.astype(np.int64),
        dimensions=dimensions,
        rule_points=np.column_stack([p[1] for p in parts]),
        rule_values=np.column_stack([p[2] for p in parts]),
        caps_hit=hit,
        cap_values=cap_values,
    )


def top_reasons(scores: Scores, k: int) -> pd.DataFrame:
    """Long frame (row, rank, item, points, value): caps in force first, then the rules that
    moved the score most, at most `k` per entity. Items index caps first, then rules."""
    n_caps = scores.caps_hit.shape[1]
    points = np.column_stack([np.full(scores.caps_hit.shape, np.nan), scores.rule_points])
    values = np.column_stack([scores.cap_values, scores.rule_values])
    weight = np.column_stack([np.where(scores.caps_hit, np.inf, 0.0), np.abs(scores.rule_points)])
    weight[:, n_caps:][weight[:, n_caps:] < REASON_MIN_POINTS] = 0.0
    order = np.argsort(-weight, axis=1, kind="stable")[:, :k]
    rows = np.repeat(np.arange(len(order)), order.shape[1])
    items = order.ravel()
    keep = weight[rows, items] > 0
    return pd.DataFrame(
        {
            "row": rows[keep],
            "rank": np.tile(np.arange(order.shape[1]), len(order))[keep],
            "item": items[keep],
            "points": points[rows, items][keep],
            "value": values[rows, items][keep],
        }
    )
