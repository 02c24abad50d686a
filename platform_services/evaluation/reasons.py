"""Reasons as stored and exported: a JSON array and one zh / en line per entity.

Each reason item (a cap or a rule of the scale) carries its texts and catalog category once;
per entity only the value read and the points moved are filled in, set-based in DuckDB over
the long frame of `scoring.top_reasons` (one row per entity and reason).
"""

from __future__ import annotations

import json
from functools import cache

import pandas as pd

from catalog import schema
from features.definitions import REGISTRY
from platform_services.evaluation.scale import Dimension, Scale


def _item(kind: str, ident: str, dimension: Dimension | None, feature: str) -> dict[str, object]:
    f = REGISTRY[feature]
    zh, en = schema.CATEGORIES[f.category]
    return {
        "kind": kind,
        "id": ident,
        "dimension": dimension.name if dimension else None,
        "dimension_zh": dimension.zh if dimension else None,
        "dimension_en": dimension.en if dimension else None,
        "category": f.category,
        "category_zh": zh,
        "category_en": en,
        "feature": feature,
        "zh": f.zh,
        "en": f.en,
    }


@cache
def items(scale: Scale) -> pd.DataFrame:
    """One row per reason item (caps first, then rules): texts and the item's JSON head."""
    rows = [_item("cap", c.id, None, c.feature) | {"grade_cap": c.grade} for c in scale.caps]
    rows += [_item("rule", r.id, d, r.feature) | {"grade_cap": None} for d, r in scale.rules]
    for row in rows:  # the reason's JSON object without its value, points and closing brace
        row["head"] = json.dumps(row, ensure_ascii=False, separators=(",", ":"))[:-1]
    frame = pd.DataFrame(rows)
    frame["cap_zh"] = frame["zh"] + "(等级不高于" + frame["grade_cap"].fillna("") + ")"
    frame["cap_en"] = frame["en"] + " (grade at most " + frame["grade_cap"].fillna("") + ")"
    return frame


_VALUE = (
    "CASE WHEN l.value = round(l.value) AND abs(l.value) < 1e15 "
    "THEN CAST(CAST(l.value AS BIGINT) AS VARCHAR) ELSE CAST(round(l.value, 2) AS VARCHAR) END"
)
_POINTS = "printf('%+.1f', l.points)"
_PER_REASON = f"""
  SELECT l.row, l.rank,
    i.head || ',"value":' || CAST(to_json(l.value) AS VARCHAR) || ',"points":'
      || coalesce(CAST(to_json(round(l.points, 2)) AS VARCHAR), 'null') || '}}' AS js,
    CASE WHEN i.kind = 'cap' THEN i.cap_zh
      ELSE i.zh || '=' || {_VALUE} || '(' || {_POINTS} || '分)' END AS zh,
    CASE WHEN i.kind = 'cap' THEN i.cap_en
      ELSE i.en || ' = ' || {_VALUE} || ' (' || {_POINTS} || ' points)' END AS en
  FROM _reasons_long l JOIN _reasons_items i ON i.item = l.item"""


def reasons_sql(k: int) -> str:
    """Per entity with reasons: JSON array and zh/en lines in rank order (ranks 0..k-1), from
    the registered `_reasons_long` (row, rank, item, points, value) and `_reasons_items`."""

    def ranked(column: str, sep: str) -> str:  # a pivot on rank: no sort per entity
        picks = ", ".join(f"any_value({column}) FILTER (WHERE rank = {r})" for r in range(k))
        return f"concat_ws('{sep}', {picks})"

    return f"""
SELECT row, '[' || {ranked("js", ",")} || ']' AS reasons, {ranked("zh", "; ")} AS reasons_zh,
  {ranked("en", "; ")} AS reasons_en
FROM ({_PER_REASON}
) r GROUP BY row"""
