"""The master scale: PD bands mapped to rating grades, shared by every bank product."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from catalog.errors import InvalidInput


@dataclass(frozen=True)
class MasterScale:
    """Grade i (1-based) holds the PDs in (upper_pd[i-2], upper_pd[i-1]]; the last bound is 1."""

    upper_pd: tuple[float, ...]
    labels: tuple[str, ...]

    def __post_init__(self) -> None:
        bounds = np.asarray(self.upper_pd, dtype=np.float64)
        if len(self.labels) != len(bounds) or len(bounds) == 0:
            raise InvalidInput("master scale: needs one label per upper bound and at least one")
        if len(set(self.labels)) != len(self.labels):
            raise InvalidInput("master scale: labels must be unique")
        if not (bounds[0] > 0 and np.all(np.diff(bounds) > 0) and bounds[-1] == 1.0):
            raise InvalidInput("master scale: upper_pd must rise strictly from > 0 to exactly 1.0")

    def grade(self, pd: ArrayLike) -> NDArray[np.int64]:
        """1-based grade index per PD; a PD exactly on a bound belongs to the lower grade."""
        values = np.asarray(pd, dtype=np.float64)
        if not np.all((values >= 0.0) & (values <= 1.0)):
            raise InvalidInput("master scale: every PD must be a number in [0, 1]")
        bounds = np.asarray(self.upper_pd, dtype=np.float64)
        return np.searchsorted(bounds, values, side="left").astype(np.int64) + 1

    def label(self, pd: ArrayLike) -> NDArray[np.str_]:
        """Grade label per PD."""
        return self.label_of(self.grade(pd))

    def label_of(self, grade: NDArray[np.int64]) -> NDArray[np.str_]:
        """Grade label per 1-based grade index (`grade`'s output)."""
        return np.asarray(self.labels, dtype=np.str_)[grade - 1]

    def to_dict(self) -> dict[str, list[float] | list[str]]:
        """Plain JSON-ready form."""
        return {"upper_pd": list(self.upper_pd), "labels": list(self.labels)}

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> MasterScale:
        """Rebuild from `to_dict` output; a malformed mapping raises InvalidInput."""
        upper, labels = data.get("upper_pd"), data.get("labels")
        if not isinstance(upper, list | tuple) or not isinstance(labels, list | tuple):
            raise InvalidInput("master scale: needs lists 'upper_pd' and 'labels'")
        try:
            return cls(tuple(float(u) for u in upper), tuple(str(s) for s in labels))
        except (TypeError, ValueError) as exc:
            raise InvalidInput("master scale: upper_pd must be numbers") from exc


DEFAULT_SCALE = MasterScale(
    upper_pd=(0.003, 0.006, 0.01, 0.015, 0.02, 0.03, 0.045, 0.07, 0.12, 1.0),
    labels=tuple(f"G{i:02d}" for i in range(1, 11)),
)
