"""Reason codes from TreeSHAP contributions, in Chinese and English.

Contributions are on the log-odds scale and sum, with the base value, to the raw score. A
reason names the feature (its stable code), its value and how much it moved the score.
Features only ever count records visible at the as_of date, so a reason can never cite a
repaired or expired record.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np

from models.pd_model import FeatureSpec

ADDITIVITY_TOLERANCE = 1e-6


@dataclass(frozen=True)
class Reason:
    """One reason: stable code, texts, the feature's value and its contribution."""

    code: str
    feature: str
    text_zh: str
    text_en: str
    value: float | str | None
    contribution: float
    direction: str  # "raises_risk" | "lowers_risk"

    def to_dict(self) -> dict[str, object]:
        """JSON-ready reason (flat fields: no deep copy as `dataclasses.asdict` would make)."""
        return {f.name: getattr(self, f.name) for f in REASON_FIELDS}


REASON_FIELDS = fields(Reason)


def display_value(spec: FeatureSpec, feature: str, value: float) -> float | str | None:
    """The value as a loan officer reads it: category labels, None for missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    labels = spec.categories.get(feature)
    if labels is not None and 0 <= int(value) < len(labels):
        return labels[int(value)]
    return round(float(value), 4)


def _texts(spec: FeatureSpec, feature: str, shown: object, contribution: float) -> tuple[str, str]:
    zh, en = spec.texts.get(feature, (feature, feature))
    value = "缺失" if shown is None else shown
    up = contribution > 0
    return (
        f"{zh}：{value}（{'提高' if up else '降低'}风险）",
        f"{en}: {'missing' if shown is None else shown} ({'raises' if up else 'lowers'} risk)",
    )


def top_reasons(
    spec: FeatureSpec, contributions: np.ndarray, values: np.ndarray, top_n: int
) -> list[Reason]:
    """The `top_n` features with the largest absolute contribution to one row's score."""
    parts = contributions[:-1]
    order = sorted(range(len(parts)), key=lambda i: (-abs(parts[i]), spec.names[i]))
    out = []
    for i in order[:top_n]:
        if parts[i] == 0.0:
            break
        name = spec.names[i]
        shown = display_value(spec, name, float(values[i]))
        zh, en = _texts(spec, name, shown, float(parts[i]))
        out.append(
            Reason(
                name.upper(),
                name,
                zh,
                en,
                shown,
                float(parts[i]),
                "raises_risk" if parts[i] > 0 else "lowers_risk",
            )
        )
    return out


def additivity_error(contributions: np.ndarray, raw: np.ndarray) -> float:
    """Largest |sum of contributions + base value - raw score| over the rows."""
    return float(np.max(np.abs(contributions.sum(axis=1) - raw))) if len(raw) else 0.0
