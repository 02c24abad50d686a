"""Population stability against a reference frozen at training: every feature and the score.

When a model is trained, `feature_reference` freezes for each model feature the PSI bin edges
of the training split and the split's share per bin (missing values in a bin of their own);
`review/feature_reference.json` keeps it with the run, so monitoring never needs the training
data again. Numeric features get equal-mass bins (`metrics.psi_reference`), categorical ones a
bin per category. The score's reference is `review/score_reference.json` (frozen edges and a
seeded sample of training PDs).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from models.pd_model import FeatureSpec
from training import metrics

FEATURE_REFERENCE = "feature_reference.json"
REFERENCE_BINS = 10
SCORE = "score"
Level = Literal["ok", "warn", "alert"]


@dataclass(frozen=True)
class Thresholds:
    """PSI levels (warn at or above `warn`, alert at or above `alert`) and the rows a PSI needs."""

    warn: float = metrics.PSI_STABLE
    alert: float = metrics.PSI_SHIFT
    min_rows: int = 200

    def level(self, psi: float) -> Level:
        """The level of one PSI."""
        return "alert" if psi >= self.alert else "warn" if psi >= self.warn else "ok"

    def to_dict(self) -> dict[str, float]:
        """JSON-ready thresholds."""
        return {"warn": self.warn, "alert": self.alert, "min_rows": self.min_rows}


def bin_edges(values: npt.ArrayLike, n_categories: int = 0, bins: int = REFERENCE_BINS) -> Any:
    """Frozen edges: one bin per category code (0..n-1), else equal-mass bins of `values`."""
    if n_categories:
        inner = np.arange(n_categories - 1, dtype=np.float64) + 0.5
        return np.concatenate([[-np.inf], inner, [np.inf]])
    return metrics.psi_reference(values, bins)


def _column(frame: pd.DataFrame, name: str) -> Any:
    return frame[name].to_numpy(dtype=np.float64, na_value=np.nan)


def _dates(frame: pd.DataFrame) -> dict[str, str | None]:
    if "as_of" not in frame or frame.empty:
        return {"as_of_first": None, "as_of_last": None}
    as_of = pd.to_datetime(frame["as_of"])
    return {
        "as_of_first": as_of.min().date().isoformat(),
        "as_of_last": as_of.max().date().isoformat(),
    }


def feature_reference(
    train: pd.DataFrame, spec: FeatureSpec, bins: int = REFERENCE_BINS
) -> dict[str, Any]:
    """The training split's frozen bins and shares for every model feature (JSON-ready)."""
    features = {}
    for name in spec.names:
        values = _column(train, name)
        edges = bin_edges(values, len(spec.categories.get(name, ())), bins)
        features[name] = {
            "inner_edges": edges[1:-1].tolist(),
            "shares": metrics.bin_shares(values, edges).tolist(),
            "categorical": name in spec.categorical,
        }
    return {
        "version": 1,
        "split": "train",
        "rows": len(train),
        "bins": bins,
        **_dates(train),
        "features": features,
    }


def score_entry(score_reference: dict[str, Any]) -> dict[str, Any]:
    """A `score_reference.json` (edges + PD sample) in the shape of one feature's entry."""
    edges = np.array([-np.inf, *score_reference["inner_edges"], np.inf])
    shares = metrics.bin_shares(score_reference["pd_sample"], edges)
    return {
        "inner_edges": list(score_reference["inner_edges"]),
        "shares": shares.tolist(),
        "categorical": False,
    }


def stability(
    name: str, entry: dict[str, Any], values: npt.ArrayLike, thresholds: Thresholds
) -> dict[str, Any]:
    """PSI of `values` against one frozen entry, with its level and both share vectors."""
    edges = np.array([-np.inf, *entry["inner_edges"], np.inf])
    actual = metrics.bin_shares(values, edges)
    psi = metrics.psi_from_shares(entry["shares"], actual)
    return {
        "feature": name,
        "psi": psi,
        "level": thresholds.level(psi),
        "inner_edges": list(entry["inner_edges"]),
        "reference_shares": list(entry["shares"]),
        "actual_shares": actual.tolist(),
    }


def feature_stability(
    reference: dict[str, Any], frame: pd.DataFrame, thresholds: Thresholds
) -> list[dict[str, Any]]:
    """Every referenced feature present in `frame`, most shifted first."""
    rows = [
        stability(name, entry, _column(frame, name), thresholds)
        for name, entry in reference["features"].items()
        if name in frame
    ]
    return sorted(rows, key=lambda r: -r["psi"])


def scope(
    reference: dict[str, Any] | None,
    score_reference: dict[str, Any] | None,
    frame: pd.DataFrame,
    pd_values: npt.ArrayLike,
    thresholds: Thresholds,
) -> dict[str, Any]:
    """One population against the references: its score and feature PSIs (or why there are none)."""
    out: dict[str, Any] = {"rows": len(frame), "score": None, "features": []}
    if len(frame) < thresholds.min_rows:
        return out | {"status": "too_few_rows"}
    if score_reference is not None:
        out["score"] = stability(SCORE, score_entry(score_reference), pd_values, thresholds)
    if reference is not None:
        out["features"] = feature_stability(reference, frame, thresholds)
    missing = reference is None or score_reference is None
    return out | {"status": "no_reference" if missing else "ok"}


def flagged(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The warn and alert rows of one scope (score first), without their share vectors."""
    rows = ([result["score"]] if result.get("score") else []) + list(result.get("features", []))
    return [
        {"feature": r["feature"], "psi": r["psi"], "level": r["level"]}
        for r in rows
        if r["level"] != "ok"
    ]
