"""Reason codes from TreeSHAP contributions, in Chinese and English.

Contributions are on the log-odds scale and sum, with the base value, to the raw score. A
reason names the feature (its stable code), its value and how much it moved the score.
Features only ever count records visible at the as_of date, so a reason can never cite a
repaired or expired record.
"""

from __future__ import annotations

import math
from typing import Any

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
    names = (feature, feature.upper(), *_name_texts(spec, feature))
    _, zh, en = _texts(spec, names, value, contribution > 0)
    return zh, en


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
    rows = reason_records(spec, top.reshape(1, -1), parts.reshape(1, -1), values.reshape(1, -1))
    return [Reason(**record) for record in rows[0]]


def reason_records(
    spec: FeatureSpec, top: NDArray[np.int64], parts: FloatArray, values: FloatArray
) -> list[list[dict[str, Any]]]:
    """Every row's reasons as plain dicts (`Reason.model_dump()` of `reasons`), rows at once.

    `top` and `parts` are rows x top_n (`rank_reasons`), `values` rows x features. The batch
    path (offers, events) needs hundreds of thousands of these: texts are formatted once per
    feature and value, and no pydantic object is made.
    """
    names: dict[int, tuple[str, str, str, str]] = {}  # the features that give a reason
    cache: dict[tuple[int, float, bool, float], tuple[float | str | None, str, str]] = {}
    tops, contributions = top.tolist(), parts.tolist()
    out: list[list[dict[str, Any]]] = []
    for i, (row_top, row_parts) in enumerate(zip(tops, contributions, strict=True)):
        row: list[dict[str, Any]] = []
        for j, part in zip(row_top, row_parts, strict=True):
            if part == 0.0:
                break
            value, up = float(values[i, j]), part > 0
            if j not in names:
                name = spec.names[j]
                names[j] = (name, name.upper(), *_name_texts(spec, name))
            key = (j, value, up, math.copysign(1.0, value))  # -0.0 is shown "-0"
            texts = cache.get(key)
            if texts is None:
                texts = _texts(spec, names[j], value, up)
                if value == value:  # NaN never equals itself: a missing value is not kept
                    cache[key] = texts
            name, code = names[j][0], names[j][1]
            row.append(
                {
                    "code": code,
                    "feature": name,
                    "text_zh": texts[1],
                    "text_en": texts[2],
                    "value": texts[0],
                    "contribution": part,
                    "direction": "raises_risk" if up else "lowers_risk",
                }
            )
        out.append(row)
    return out


def _name_texts(spec: FeatureSpec, feature: str) -> tuple[str, str]:
    return wording.name_texts(feature, spec.texts.get(feature, (feature, feature)))


def _texts(
    spec: FeatureSpec, names: tuple[str, str, str, str], value: float, up: bool
) -> tuple[float | str | None, str, str]:
    """A reason's shown value and its zh and en texts (as `display_value` and `reason_texts`)."""
    feature, _, zh, en = names
    value_zh, value_en = wording.value_texts(feature, value, spec.categories)
    return (
        display_value(spec, feature, value),
        f"{zh}：{value_zh}（{'提高' if up else '降低'}风险）",
        f"{en}: {value_en} ({'raises' if up else 'lowers'} risk)",
    )


def additivity_error(contributions: np.ndarray, raw: np.ndarray) -> float:
    """Largest |sum of contributions + base value - raw score| over the rows."""
    return float(np.max(np.abs(contributions.sum(axis=1) - raw))) if len(raw) else 0.0
