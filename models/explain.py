"""Reason codes from TreeSHAP contributions, in Chinese and English.

Contributions are on the log-odds scale and sum, with the base value, to the raw score. A
reason names the feature (its stable code), its value and how much it moved the score.
Features only ever count records visible at the as_of date, so a reason can never cite a
repaired or expired record.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from models import wording
from models.decision import Reason
from models.pd_model import FeatureSpec

ADDITIVITY_TOLERANCE = 1e-6
FloatArray = NDArray[np.float64]


def display_value(spec: FeatureSpec, feature: str, value: float) -> float | str | None:
    """The value as a loan officer reads it: category labels, None for missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    labels = spec.categories.get(feature)
    if labels is not None and 0 <= int(value) < len(labels):
        return labels[int(value)]
    return round(float(value), 4)


def reason_texts(
    spec: FeatureSpec, feature: str, value: float, contribution: float
) -> tuple[str, str]:
    """The Chinese and English text of a reason: feature, value (as labels) and direction."""
    zh, en = wording.name_texts(feature, spec.texts.get(feature, (feature, feature)))
    value_zh, value_en = wording.value_texts(feature, value, spec.categories)
    up = contribution > 0
    return (
        f"{zh}：{value_zh}（{'提高' if up else '降低'}风险）",
        f"{en}: {value_en} ({'raises' if up else 'lowers'} risk)",
    )


def rank_reasons(
    spec: FeatureSpec, contributions: FloatArray, top_n: int
) -> tuple[NDArray[np.int64], FloatArray]:
    """Per row, the `top_n` features by |contribution|, ties by feature name; and their parts.

    `contributions` is rows x (features + 1), the last column the base value (TreeSHAP).
    """
    parts = contributions[:, :-1]
    by_name = np.argsort(np.asarray(spec.names), kind="stable")
    order = np.argsort(-np.abs(parts[:, by_name]), axis=1, kind="stable")[:, :top_n]
    top = by_name[order].astype(np.int64)
    return top, np.take_along_axis(parts, top, axis=1)


def reasons(
    spec: FeatureSpec, top: NDArray[np.int64], parts: FloatArray, values: FloatArray
) -> list[Reason]:
    """One row's reasons from its ranked features (`rank_reasons`) and its input values.

    A feature that did not move the score (contribution 0) ends the list.
    """
    out: list[Reason] = []
    for j, part in zip(top.tolist(), parts.tolist(), strict=True):
        if part == 0.0:
            break
        name = spec.names[j]
        shown = display_value(spec, name, float(values[j]))
        zh, en = reason_texts(spec, name, float(values[j]), part)
        out.append(
            Reason(
                code=name.upper(),
                feature=name,
                text_zh=zh,
                text_en=en,
                value=shown,
                contribution=part,
                direction="raises_risk" if part > 0 else "lowers_risk",
            )
        )
    return out


def additivity_error(contributions: np.ndarray, raw: np.ndarray) -> float:
    """Largest |sum of contributions + base value - raw score| over the rows."""
    return float(np.max(np.abs(contributions.sum(axis=1) - raw))) if len(raw) else 0.0
