"""Rating stability: grade migration between two dates and Herfindahl concentration of grades.

Pure functions (docs/validation.md). A panel is one row per entity and date with its grade
label; the migration matrix counts entities graded on both dates, rows = grade at the first.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import BaseModel, ConfigDict

from catalog.errors import InvalidInput


class Migration(BaseModel):
    """Entities by grade at `start` (rows) and at `end` (columns), counts and row shares."""

    model_config = ConfigDict(frozen=True)

    start: str
    end: str
    labels: list[str]
    counts: list[list[int]]
    row_shares: list[list[float | None]]
    entities: int
    stayed: float | None
    only_start: int
    only_end: int


class Concentration(BaseModel):
    """Share of rows per grade and the Herfindahl-Hirschman index of those shares."""

    model_config = ConfigDict(frozen=True)

    shares: dict[str, float]
    hhi: float
    hhi_normalised: float


def migration(
    start: pd.Series, end: pd.Series, labels: Sequence[str], dates: tuple[str, str]
) -> Migration:
    """Migration of `start` grades (indexed by entity) to `end` grades (same index kind)."""
    known = set(labels)
    if not (set(start.dropna()) <= known and set(end.dropna()) <= known):
        raise InvalidInput("migration: every grade must be a label of the master scale")
    both = start.index.intersection(end.index)
    position = {label: i for i, label in enumerate(labels)}
    counts = np.zeros((len(labels), len(labels)), dtype=np.int64)
    np.add.at(counts, (start[both].map(position).to_numpy(), end[both].map(position).to_numpy()), 1)
    totals = counts.sum(axis=1)
    shares: list[list[float | None]] = [
        [float(c / t) if t else None for c in row] for row, t in zip(counts, totals, strict=True)
    ]
    return Migration(
        start=dates[0], end=dates[1], labels=list(labels), counts=counts.tolist(),
        row_shares=shares, entities=int(both.size),
        stayed=float(np.trace(counts) / both.size) if both.size else None,
        only_start=int(start.index.difference(end.index).size),
        only_end=int(end.index.difference(start.index).size),
    )  # fmt: skip


def concentration(grades: npt.ArrayLike, labels: Sequence[str]) -> Concentration:
    """HHI = sum of squared grade shares; normalised (HHI - 1/K) / (1 - 1/K) over K grades."""
    values = pd.Series(np.asarray(grades).ravel(), dtype="string")
    if values.empty:
        raise InvalidInput("concentration needs at least one graded row")
    shares = values.value_counts(normalize=True).reindex(list(labels), fill_value=0.0)
    hhi, k = float((shares**2).sum()), len(labels)
    return Concentration(
        shares={str(g): float(s) for g, s in shares.items()},
        hhi=hhi,
        hhi_normalised=(hhi - 1 / k) / (1 - 1 / k) if k > 1 else 1.0,
    )
