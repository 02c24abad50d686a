"""Conceptual soundness: a model's monotone directions against the registry, and in behaviour.

For every model input the registry declares a direction (+1: more of it never lowers the PD,
-1: never raises it, 0: free). The check compares the model's own declared constraint with the
registry's, then perturbs each constrained input upward on the validated loans (by one standard
deviation, or 1 for a constant column) and counts rows whose PD moved against the direction.

The reasons a bank reads are checked too (`reason_directions`): every top reason the served
path gives on the validated loans says its feature "raises" or "lowers" risk at its value. For
a feature the registry declares increasing, a reason that raises risk at a value below another
loan's value where the same feature lowers risk contradicts the declaration (and the reverse for
a decreasing one). The share of such (raising, lowering) pairs, ties counted half, is 0 for a
model additive in that feature; interactions in the trees can make it positive.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from models.batch import explain_rows
from models.preapproval import PreapprovalModel

TOLERANCE = 1e-12
REASON_LIGHTS = ((0.01, "green"), (0.05, "yellow"))  # discordant share at most: else "red"


class MonotoneCheck(BaseModel):
    """One input: declared directions, and rows whose PD moved against the registry's."""

    model_config = ConfigDict(frozen=True)

    feature: str
    registry: int | None
    model: int
    agrees: bool
    rows: int
    violations: int


def monotonicity(
    model: PreapprovalModel, frame: pd.DataFrame, registry: Mapping[str, int]
) -> list[MonotoneCheck]:
    """Every model input: its directions and, when constrained, behavioural violations on `frame`."""
    matrix = model.classifier_.matrix(frame) if len(frame) else np.empty((0, len(model.spec.names)))
    base = _pd(model, matrix)
    return [
        _check(model, matrix, base, j, registry.get(name))
        for j, name in enumerate(model.spec.names)
    ]


def _pd(model: PreapprovalModel, matrix: np.ndarray) -> np.ndarray:
    return np.asarray(model.calibrator_(model.raw_score(matrix))) if len(matrix) else np.array([])


def _check(
    model: PreapprovalModel, matrix: np.ndarray, base: np.ndarray, j: int, declared: int | None
) -> MonotoneCheck:
    name, own = model.spec.names[j], int(model.spec.monotone[j])
    direction = declared if declared is not None else own
    finite = np.isfinite(matrix[:, j]) if len(matrix) else np.array([], dtype=bool)
    violations = 0
    if direction != 0 and finite.any():
        column = matrix[finite, j]
        step = float(column.std()) or 1.0
        moved = matrix[finite].copy()
        moved[:, j] += step
        change = (_pd(model, moved) - base[finite]) * direction
        violations = int((change < -TOLERANCE).sum())
    return MonotoneCheck(
        feature=name, registry=declared, model=own, agrees=declared == own,
        rows=int(finite.sum()), violations=violations,
    )  # fmt: skip


class ReasonCheck(BaseModel):
    """The top reasons citing one feature with a declared direction, against that direction."""

    model_config = ConfigDict(frozen=True)

    feature: str
    registry: int
    reasons: int  # top reasons citing the feature at a known value
    raising: int
    lowering: int
    discordant_share: float | None  # None: reasons in one direction only
    light: str


def reason_directions(
    model: PreapprovalModel, frame: pd.DataFrame, registry: Mapping[str, int]
) -> list[ReasonCheck]:
    """Every feature cited by a top reason on `frame` (the served path) with a declared direction."""
    if not len(frame):
        return []
    explained = explain_rows(model, frame)
    rows = np.repeat(np.arange(len(frame)), explained.top.shape[1])
    features, parts = explained.top.ravel(), explained.top_contribution.ravel()
    values = explained.matrix[rows, features]
    cited = (parts != 0.0) & np.isfinite(values)
    out = []
    for j in np.unique(features[cited]):
        name = model.spec.names[int(j)]
        direction = int(registry.get(name, 0))
        if direction == 0:
            continue
        mine = cited & (features == j)
        up, down = values[mine & (parts > 0)], values[mine & (parts < 0)]
        share = discordance(up, down, direction)
        check = ReasonCheck(
            feature=name, registry=direction, reasons=int(mine.sum()), raising=up.size,
            lowering=down.size, discordant_share=share, light=reason_light(share),
        )  # fmt: skip
        out.append(check)
    return out


def discordance(raising: np.ndarray, lowering: np.ndarray, direction: int) -> float | None:
    """Share of (raising, lowering) value pairs against `direction`, ties counted half.

    With direction +1 a pair is discordant when the value that raised risk is below the one
    that lowered it; with -1, above.
    """
    if not raising.size or not lowering.size or direction == 0:
        return None
    low = np.sort(lowering)
    below = np.searchsorted(low, raising, side="left")  # lowering values under each raising one
    ties = np.searchsorted(low, raising, side="right") - below
    above = low.size - below - ties
    against = above if direction > 0 else below
    return float((against.sum() + 0.5 * ties.sum()) / (raising.size * low.size))


def reason_light(share: float | None) -> str:
    """green: at most 1% of pairs discordant; yellow: at most 5%; red: more; n/a: no pairs."""
    if share is None:
        return "n/a"
    return next((light for limit, light in REASON_LIGHTS if share <= limit), "red")
