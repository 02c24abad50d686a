"""The public credit composite evaluation of one entity, from the snapshot row the API holds.

The grade is computed now, by the same code as `precredit evaluate-entities`
(`platform_services.evaluation.grading.evaluate_one`), over a one-row copy of the in-memory snapshot, so
it follows the entity's data as soon as its snapshot row is refreshed.
"""

from __future__ import annotations

from typing import Any

import duckdb
import pandas as pd

from features import snapshot
from features.definitions import REGISTRY
from platform_services.evaluation.grading import evaluate_one
from serving.decision.snapshot import SnapshotRow

ROW = "_evaluated_row"


def evaluation(code: str, row: SnapshotRow) -> dict[str, Any]:
    """The entity's grade, score, points per dimension and top reasons (zh/en)."""
    frame = pd.DataFrame([row.take(tuple(REGISTRY.names))], columns=list(REGISTRY.names))
    frame.insert(0, "uscc", code)
    frame.insert(1, "as_of", pd.Timestamp(row.as_of))
    frame.insert(2, "registry_fingerprint", row.registry_fingerprint)
    con = duckdb.connect()  # in memory, private to this call
    try:
        con.register(ROW, frame)
        con.execute(f"CREATE TABLE {snapshot.TABLE} AS SELECT * FROM {ROW}")
        return evaluate_one(con, code).to_dict()
    finally:
        con.close()
