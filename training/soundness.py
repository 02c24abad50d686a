"""Conceptual soundness: a model's monotone directions against the registry, and in behaviour.

For every model input the registry declares a direction (+1: more of it never lowers the PD,
-1: never raises it, 0: free). The check compares the model's own declared constraint with the
registry's, then perturbs each constrained input upward on the validated loans (by one standard
deviation, or 1 for a constant column) and counts rows whose PD moved against the direction.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from models.preapproval import PreapprovalModel

TOLERANCE = 1e-12


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
