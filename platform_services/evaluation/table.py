"""The `entity_evaluation` table: graded rows with their reasons, assembled and written in DuckDB.

Scores arrive as numpy arrays; they are registered with the long frame of reasons, and one
SELECT (`graded_sql`) joins them into graded rows, for the whole city or for one entity.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from catalog.store import Connection
from platform_services.evaluation.reasons import items, reasons_sql
from platform_services.evaluation.scale import Scale
from platform_services.evaluation.scoring import Scores, top_reasons

TABLE = "entity_evaluation"
STATUS = {0.0: "active", 1.0: "deregistered"}
_STAGED = ("_eval_main", "_reasons_long", "_reasons_items")


def _labels(values: list[str | None], index: NDArray[np.int64]) -> NDArray[np.object_]:
    labels: NDArray[np.object_] = np.array(values, dtype=object)
    return labels[index]


def main_frame(snap: pd.DataFrame, scores: Scores, scale: Scale) -> pd.DataFrame:
    """One row per snapshot row: score, grades, binding cap, dimension points, provenance."""
    grades = scale.grades
    frame = pd.DataFrame(
        {
            "row": np.arange(len(snap)),
            "uscc": snap["uscc"].to_numpy(),
            "as_of": pd.to_datetime(snap["as_of"]).dt.date.to_numpy(),
            "status": snap["reg_deregistered"].map(STATUS).fillna("unknown").to_numpy(),
            "score": scores.score.round(2),
            "grade": _labels([g.label for g in grades], scores.grade),
            "grade_zh": _labels([g.zh for g in grades], scores.grade),
            "grade_en": _labels([g.en for g in grades], scores.grade),
            "points_grade": _labels([g.label for g in grades], scores.points_grade),
            "cap": _labels([c.id for c in scale.caps] + [None], scores.cap),  # -1: no cap binds
        }
    )
    for d, dimension in enumerate(scale.dimensions):
        frame[f"pts_{dimension.name}"] = scores.dimensions[:, d].round(2)
    frame["registry_fingerprint"] = snap["registry_fingerprint"].to_numpy()
    frame["scale_version"] = scale.version
    frame["scale_fingerprint"] = scale.fingerprint()
    return frame


def graded_sql(main: pd.DataFrame, scale: Scale) -> str:
    """The graded rows: the staged main frame joined to its reasons, in snapshot order."""
    head = [
        c
        for c in main.columns
        if c != "row" and not c.endswith("fingerprint") and c != "scale_version"
    ]
    return f"""
SELECT {", ".join(f"m.{c}" for c in head)},
  coalesce(r.reasons, '[]') AS reasons, coalesce(r.reasons_zh, '') AS reasons_zh,
  coalesce(r.reasons_en, '') AS reasons_en, m.registry_fingerprint, m.scale_version,
  m.scale_fingerprint, CAST(now() AS TIMESTAMP) AS evaluated_at
FROM _eval_main m LEFT JOIN ({reasons_sql(scale.top_reasons)}
) r ON r.row = m.row
ORDER BY m.row"""


@contextmanager
def staged(con: Connection, snap: pd.DataFrame, scores: Scores, scale: Scale) -> Iterator[str]:
    """Register the inputs of the graded SELECT on `con` for the block; yields that SELECT."""
    main = main_frame(snap, scores, scale)
    frames = (main, top_reasons(scores, scale.top_reasons), items(scale).reset_index(names="item"))
    for name, frame in zip(_STAGED, frames, strict=True):
        con.register(name, frame)
    try:
        yield graded_sql(main, scale)
    finally:
        for name in _STAGED:
            con.unregister(name)


def exists(con: Connection, table: str = TABLE) -> bool:
    """Whether `table` exists in the store."""
    rows = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [table]
    ).fetchall()
    return bool(rows[0][0])


def stored_scales(con: Connection) -> set[str]:
    """Scale fingerprints present in the graded table."""
    rows = con.execute(f"SELECT DISTINCT scale_fingerprint FROM {TABLE}").fetchall()
    return {str(r[0]) for r in rows}


def write(con: Connection, select: str, *, replace: bool) -> None:
    """Replace the table with `select`, or only the rows of its entities, in one transaction."""
    if replace:
        con.execute(f"CREATE OR REPLACE TABLE {TABLE} AS {select}")
        con.execute(f"CREATE INDEX IF NOT EXISTS idx_{TABLE}_uscc ON {TABLE} (uscc)")  # lookups
        return
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(f"DELETE FROM {TABLE} WHERE uscc IN (SELECT uscc FROM _eval_main)")
        con.execute(f"INSERT INTO {TABLE} BY NAME {select}")
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise


_LEADING = f"""
WITH firsts AS (
  SELECT grade, json_extract_string(reasons, '$[0].id') AS id,
    json_extract_string(reasons, '$[0].zh') AS zh, json_extract_string(reasons, '$[0].en') AS en
  FROM {TABLE}
)
SELECT grade, id, zh, en, count(*) / sum(count(*)) OVER (PARTITION BY grade) AS share
FROM firsts GROUP BY grade, id, zh, en
QUALIFY row_number() OVER (PARTITION BY grade ORDER BY id IS NULL, count(*) DESC, id) = 1"""


def leading_reasons(con: Connection) -> dict[str, tuple[str, str, float]]:
    """Per grade: the reason most often ranked first (zh, en) and its share of the grade."""
    rows = con.execute(_LEADING).fetchall()
    return {g: (zh, en, float(share)) for g, ident, zh, en, share in rows if ident is not None}
