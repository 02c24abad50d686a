"""Grade entities from the feature snapshot: the whole city, a few refreshed entities, or one."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from catalog import uscc
from catalog.errors import StoreError, UnknownEntity
from catalog.store import Connection
from features import snapshot
from features.compute import SAFE_CODE
from platform_services.evaluation import table
from platform_services.evaluation.scale import Scale, default_scale
from platform_services.evaluation.scoring import score


@dataclass(frozen=True)
class EntityEvaluation:
    """One entity's evaluation: grade, score, points per dimension and its top reasons."""

    uscc: str
    as_of: str
    status: str
    score: float
    grade: str
    grade_zh: str
    grade_en: str
    points_grade: str
    cap: str | None
    dimensions: dict[str, float]
    reasons: list[dict[str, Any]]
    registry_fingerprint: str
    scale_version: str
    scale_fingerprint: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


@dataclass(frozen=True)
class EvaluationRun:
    """What one evaluation run wrote."""

    entities: int
    seconds: float
    grades: dict[str, int] = field(default_factory=dict)
    rebuilt: bool = False

    @property
    def per_second(self) -> float:
        """Entities graded per second."""
        return self.entities / self.seconds if self.seconds > 0 else float("inf")


def _snapshot(con: Connection, codes: Sequence[str] | None) -> pd.DataFrame:
    """Snapshot rows of every entity, or of `codes` (index lookups)."""
    if not table.exists(con, snapshot.TABLE):
        raise StoreError(
            "the store has no feature snapshot; run `precredit features snapshot --as-of D`"
        )
    if codes is None:
        return con.execute(f"SELECT * FROM {snapshot.TABLE} ORDER BY uscc").df()
    wanted = sorted({c for c in map(uscc.normalize, codes) if SAFE_CODE.match(c)})
    listed = ", ".join(f"'{c}'" for c in wanted) or "NULL"  # literals: the index answers
    return con.execute(
        f"SELECT * FROM {snapshot.TABLE} WHERE uscc IN ({listed}) ORDER BY uscc"
    ).df()


def evaluate(
    con: Connection, codes: Sequence[str] | None = None, scale: Scale | None = None
) -> EvaluationRun:
    """Grade every snapshot entity (replacing the table), or re-grade only `codes`.

    Re-grading a few entities under a scale other than the stored rows' re-grades everyone,
    so the table never mixes scales.
    """
    chosen = scale or default_scale()
    rebuild = (
        codes is None
        or not table.exists(con)
        or (table.stored_scales(con) - {chosen.fingerprint()} != set())
    )
    started = time.perf_counter()
    snap = _snapshot(con, None if rebuild else codes)
    scores = score(snap, chosen)
    with table.staged(con, snap, scores, chosen) as select:
        table.write(con, select, replace=rebuild)
    grades = Counter(scores.grade.tolist())
    by_grade = {g.label: grades.get(i, 0) for i, g in enumerate(chosen.grades)}
    return EvaluationRun(
        len(snap), time.perf_counter() - started, by_grade, rebuilt=rebuild and codes is not None
    )


def reevaluate(
    con: Connection,
    codes: Sequence[str],
    scale: Scale | None = None,
    refresher: snapshot.Refresher | None = None,
) -> EvaluationRun:
    """After a correction, repair or new record: refresh the entities' snapshot rows, re-grade.

    A long-lived process passes its `snapshot.Refresher` (prepared once) for fast refreshes.
    """
    if refresher is not None:
        refresher.refresh(codes)
    else:
        snapshot.refresh(con, codes)
    return evaluate(con, codes, scale)


def _to_evaluation(row: dict[str, Any], scale_dims: list[str]) -> EntityEvaluation:
    return EntityEvaluation(
        uscc=row["uscc"],
        as_of=str(row["as_of"])[:10],
        status=row["status"],
        score=float(row["score"]),
        grade=row["grade"],
        grade_zh=row["grade_zh"],
        grade_en=row["grade_en"],
        points_grade=row["points_grade"],
        cap=row["cap"],
        dimensions={d: float(row[f"pts_{d}"]) for d in scale_dims},
        reasons=json.loads(row["reasons"]),
        registry_fingerprint=row["registry_fingerprint"],
        scale_version=row["scale_version"],
        scale_fingerprint=row["scale_fingerprint"],
    )


def evaluate_one(con: Connection, code: str, scale: Scale | None = None) -> EntityEvaluation:
    """Grade one entity from its snapshot row now (the same computation as the batch)."""
    chosen = scale or default_scale()
    snap = _snapshot(con, [code])
    if snap.empty:
        raise UnknownEntity("no market entity with this credit code in the feature snapshot")
    cur = con.cursor()  # registrations stay private to this call
    try:
        with table.staged(cur, snap, score(snap, chosen), chosen) as select:
            result = cur.execute(select)
            names = [d[0] for d in result.description]
            row = dict(zip(names, result.fetchall()[0], strict=True))
    finally:
        cur.close()
    return _to_evaluation(row, [d.name for d in chosen.dimensions])


def stored_evaluation(con: Connection, code: str) -> EntityEvaluation:
    """The entity's row of the graded table, as published to departments."""
    if not table.exists(con):
        raise StoreError("no graded table yet; run `precredit evaluate-entities`")
    result = con.execute(f"SELECT * FROM {table.TABLE} WHERE uscc = ?", [uscc.normalize(code)])
    names = [d[0] for d in result.description]
    rows = result.fetchall()
    if not rows:
        raise UnknownEntity("no graded market entity with this credit code")
    row = dict(zip(names, rows[0], strict=True))
    dims = [n.removeprefix("pts_") for n in names if n.startswith("pts_")]
    return _to_evaluation(row, dims)
