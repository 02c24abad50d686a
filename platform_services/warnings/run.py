"""Run the warning rules: the whole city into `entity_warnings`, or a few entities on demand."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from catalog import uscc
from catalog.errors import InvalidInput
from catalog.exports import write_files
from catalog.store import Connection
from features.compute import NARROW_MAX_CODES, SAFE_CODE
from platform_services.warnings.rules import DEFAULT_RULES, WarningRule
from platform_services.warnings.sql import compile_rules

TABLE = "entity_warnings"
DDL = f"""CREATE TABLE IF NOT EXISTS {TABLE} (
  uscc VARCHAR NOT NULL, as_of DATE NOT NULL, rule VARCHAR NOT NULL, rule_zh VARCHAR NOT NULL,
  rule_en VARCHAR NOT NULL, severity VARCHAR NOT NULL, domain VARCHAR,
  window_months INTEGER NOT NULL, threshold INTEGER NOT NULL, evidence_count INTEGER NOT NULL,
  first_evidence_date DATE NOT NULL, last_evidence_date DATE NOT NULL,
  evidence VARCHAR NOT NULL, computed_at TIMESTAMP NOT NULL
)"""
EVERY_ENTITY = "SELECT DISTINCT uscc FROM entities"
LISTED = "SELECT DISTINCT uscc FROM _warn_codes"
EXTRACT = "_warn_"


@dataclass(frozen=True)
class EntityWarning:
    """One warning: the rule, its parameters and the evidence records with their dates."""

    uscc: str
    as_of: str
    rule: str
    rule_zh: str
    rule_en: str
    severity: str
    domain: str | None
    window_months: int
    threshold: int
    evidence_count: int
    first_evidence_date: str
    last_evidence_date: str
    evidence: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


@dataclass(frozen=True)
class WarningsRun:
    """What one run found and wrote."""

    as_of: dt.date
    entities: int
    by_rule: dict[str, int]
    seconds: float

    @property
    def warnings(self) -> int:
        """Warnings written."""
        return sum(self.by_rule.values())


def _day(as_of: dt.date) -> dt.date:
    return dt.date(as_of.year, as_of.month, as_of.day)  # a datetime would leak its time


def _sql(rules: tuple[WarningRule, ...], as_of: dt.date, codes: str, prefix: str = "") -> str:
    if not rules:
        raise InvalidInput("no warning rule is enabled")
    pairs = (
        f"SELECT row_number() OVER (ORDER BY uscc) AS pair_id, uscc, "
        f"DATE '{_day(as_of).isoformat()}' AS as_of FROM ({codes}) c"
    )
    return compile_rules(rules, pairs, prefix)


def _codes_frame(codes: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame({"uscc": sorted({uscc.normalize(c) for c in codes})}, dtype=object)


def _to_warning(row: dict[str, Any]) -> EntityWarning:
    dates = {k: str(row[k])[:10] for k in ("as_of", "first_evidence_date", "last_evidence_date")}
    fields = {k: v for k, v in row.items() if k in EntityWarning.__dataclass_fields__}
    return EntityWarning(**(fields | dates | {"evidence": json.loads(row["evidence"])}))


def _extract(cur: Connection, rules: tuple[WarningRule, ...], codes: pd.DataFrame) -> str:
    """Copy the few entities' rows of each source through the `uscc` indexes; the prefix."""
    safe = [c for c in codes["uscc"] if SAFE_CODE.match(c)]  # no other code is stored
    listed = ", ".join(f"'{c}'" for c in safe) or "NULL"
    for table in dict.fromkeys(t for rule in rules for t in rule.sources):
        cur.execute(
            f"CREATE OR REPLACE TEMP TABLE {EXTRACT}{table} AS "
            f"SELECT * FROM {table} WHERE uscc IN ({listed})"
        )
    return EXTRACT


def warnings_for(
    con: Connection,
    codes: Sequence[str],
    as_of: dt.date,
    rules: tuple[WarningRule, ...] = DEFAULT_RULES,
) -> list[EntityWarning]:
    """Warnings of `codes` at `as_of`, computed now from the store (nothing is written).

    Up to NARROW_MAX_CODES entities read extracts made through the `uscc` indexes (the API
    path); more read the tables directly. Both run the same compiled rules.
    """
    frame = _codes_frame(codes)
    cur = con.cursor()
    try:
        cur.register("_warn_codes", frame)
        prefix = _extract(cur, rules, frame) if len(frame) <= NARROW_MAX_CODES else ""
        result = cur.execute(_sql(rules, as_of, LISTED, prefix))
        names = [d[0] for d in result.description]
        rows = result.fetchall()
    finally:
        cur.close()  # temp extracts go with the cursor's connection
    return [_to_warning(dict(zip(names, r, strict=True))) for r in rows]


def _replace_day(con: Connection, rules: tuple[WarningRule, ...], day: dt.date, scope: str) -> None:
    """In one transaction: drop the day's rows of the entities in `scope`, insert the new ones."""
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(f"DELETE FROM {TABLE} WHERE as_of = ? AND uscc IN ({scope})", [day])
        stamped = (
            f"SELECT *, CAST(now() AS TIMESTAMP) AS computed_at FROM ({_sql(rules, day, scope)})"
        )
        con.execute(f"INSERT INTO {TABLE} BY NAME {stamped}")
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise


def run_warnings(
    con: Connection,
    as_of: dt.date,
    rules: tuple[WarningRule, ...] = DEFAULT_RULES,
    codes: Sequence[str] | None = None,
) -> WarningsRun:
    """Warnings of every entity (or `codes`) at `as_of` into `entity_warnings`, replacing that
    day's rows (of those entities); earlier days stay for comparison."""
    started, day = time.perf_counter(), _day(as_of)
    scope = EVERY_ENTITY if codes is None else LISTED
    con.execute(DDL)
    if codes is not None:
        con.register("_warn_codes", _codes_frame(codes))
    try:
        _replace_day(con, rules, day, scope)
        counts = dict(
            con.execute(
                f"SELECT rule, count(*) FROM {TABLE} WHERE as_of = ? AND uscc IN "
                f"({scope}) GROUP BY rule",
                [day],
            ).fetchall()
        )
        [(checked,)] = con.execute(f"SELECT count(*) FROM ({scope})").fetchall()
    finally:
        if codes is not None:
            con.unregister("_warn_codes")
    by_rule = {r.code: int(counts.get(r.code, 0)) for r in rules}
    return WarningsRun(day, int(checked), by_rule, time.perf_counter() - started)


def export(con: Connection, as_of: dt.date, out_dir: Path) -> tuple[Path, Path]:
    """Write that day's warnings as `entity_warnings_<as_of>.csv` and `.parquet`."""
    select = f"SELECT * FROM {TABLE} WHERE as_of = ? ORDER BY uscc, rule, domain"
    return write_files(con, select, out_dir / f"{TABLE}_{_day(as_of)}", [_day(as_of)])
