"""The graded table as files for government departments: CSV (Excel-ready UTF-8) and Parquet."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from catalog.errors import StoreError
from catalog.exports import write_files
from catalog.store import Connection
from features.definitions import SOURCES
from features.query import visible_join
from platform_services.evaluation import table

# Entity particulars as the platform showed them on the evaluation day: the same
# point-in-time rule as every feature (latest version ingested by then).
_PARTICULARS = f"""
WITH pairs AS (
  SELECT row_number() OVER (ORDER BY uscc) AS pair_id, uscc, as_of FROM {table.TABLE}
),
names AS (
  SELECT p.uscc, t.name, t.entity_type, t.division, t.industry
  FROM {visible_join(SOURCES["entities"])}
)
SELECT e.uscc, n.name, n.entity_type, n.division, n.industry, e.* EXCLUDE (uscc, evaluated_at)
FROM {table.TABLE} e LEFT JOIN names n USING (uscc)
ORDER BY e.uscc"""


def _require(con: Connection) -> None:
    if not table.exists(con):
        raise StoreError("no graded table yet; run `precredit evaluate-entities`")


def export_frame(con: Connection) -> pd.DataFrame:
    """Graded rows with each entity's name, type, division and industry."""
    _require(con)
    return con.execute(_PARTICULARS).df()


def export(con: Connection, out_dir: Path) -> tuple[Path, Path]:
    """Write `entity_evaluation_<as_of>.csv` and `.parquet` into `out_dir`; returns both paths."""
    _require(con)
    [(day,)] = con.execute(
        f"SELECT coalesce(CAST(max(as_of) AS VARCHAR), 'empty') FROM {table.TABLE}"
    ).fetchall()
    return write_files(con, _PARTICULARS, out_dir / f"{table.TABLE}_{day}")
