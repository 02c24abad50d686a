"""Improvement advice: the lawful steps open to an entity and what each would change.

For one entity and one bank, the entity's own records are copied into a scratch in-memory
DuckDB store; each action is applied there (a penalty repaired, an abnormal-operations entry
removed) and the features are recomputed by the one point-in-time pipeline and scored with the
bank's served model and policy. Advice proposes only what the entity may lawfully do itself:

- **repair a penalty** once its minimum publicity period has passed (`platform_services.repair`:
  general 3 months, serious 1 year; never a minor one, which is not published);
- **leave the abnormal-operations list** after filing what was missing (企业经营异常名录管理
  暂行办法, 第十一条).

Every effect is computed as of the snapshot date, as if the action were in force on that day;
`available_from` says from when the action is lawful. Actions also combine (all together).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

from catalog import schema, store
from features.compute import compute
from platform_services.repair import LEGAL_BASIS as REPAIR_BASIS
from platform_services.repair import PenaltyFacts, earliest_repair_date
from serving.decision import scoring
from serving.decision.model_store import ServedModel

ABNORMAL_BASIS = (
    "企业经营异常名录管理暂行办法(国家工商总局令第68号)第十一条 / SAIC Order No. 68, art. 11"
)
LATEST = (
    "SELECT * FROM {table} t WHERE version = (SELECT max(version) FROM {table} v "
    "WHERE v.record_id = t.record_id) AND NOT coalesce(retracted, false) AND ingest_date <= ?"
)


@dataclass(frozen=True)
class Action:
    """One lawful step: what, on which record, under which rule, from when."""

    action_id: str
    kind: str  # "repair_penalty" | "leave_abnormal_list"
    table: str
    record_id: str
    text_zh: str
    text_en: str
    legal_basis: str
    available_from: dt.date


def entity_tables(store_path: Path, code: str) -> dict[str, pa.Table]:
    """`code`'s rows of every catalog table, read on a short read-only connection."""
    with store.connect(store_path, read_only=True) as con:
        return {
            t.name: con.sql(
                f"SELECT * FROM {t.name} WHERE uscc = $code", params={"code": code}
            ).to_arrow_table()
            for t in schema.CATALOG_TABLES
        }


@contextmanager
def scratch_store(tables: dict[str, pa.Table]) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory store holding only these rows."""
    scratch = duckdb.connect(":memory:")
    try:
        for name, rows in tables.items():
            scratch.register("_rows", rows)
            scratch.execute(f"CREATE TABLE {name} AS SELECT * FROM _rows")
            scratch.unregister("_rows")
        yield scratch
    finally:
        scratch.close()


def actions(con: duckdb.DuckDBPyConnection, as_of: dt.date) -> list[Action]:
    """The lawful actions open to the (only) entity of a scratch store, as of `as_of`."""
    return [*_repairs(con, as_of), *_abnormal_exits(con, as_of)]


def _repairs(con: duckdb.DuckDBPyConnection, as_of: dt.date) -> Iterator[Action]:
    rows = con.execute(
        f"SELECT record_id, decision_no, severity, decision_date, publicity_end, repair_date "
        f"FROM ({LATEST.format(table='penalties')}) WHERE decision_date <= ? AND "
        f"? < least(coalesce(repair_date, DATE '9999-12-31'), publicity_end) ORDER BY record_id",
        [as_of, as_of, as_of],
    ).fetchall()
    for record_id, number, severity, decided, publicity_end, repaired in rows:
        earliest = earliest_repair_date(PenaltyFacts(severity, decided, publicity_end, repaired))
        if earliest is None:
            continue
        yield Action(
            f"repair_penalty:{record_id}",
            "repair_penalty",
            "penalties",
            str(record_id),
            f"申请信用修复：行政处罚 {number}",
            f"apply for credit repair of penalty {number}",
            REPAIR_BASIS,
            max(earliest, as_of),
        )


def _abnormal_exits(con: duckdb.DuckDBPyConnection, as_of: dt.date) -> Iterator[Action]:
    rows = con.execute(
        f"SELECT record_id, reason FROM ({LATEST.format(table='abnormal_operations')}) "
        "WHERE listed_date <= ? AND (removed_date IS NULL OR removed_date > ?) ORDER BY record_id",
        [as_of, as_of, as_of],
    ).fetchall()
    for record_id, reason in rows:
        yield Action(
            f"leave_abnormal_list:{record_id}",
            "leave_abnormal_list",
            "abnormal_operations",
            str(record_id),
            f"补报或更正公示信息后申请移出经营异常名录（列入原因：{reason}）",
            f"file or correct the public information, then apply to leave the abnormal-operations "
            f"list (listed for: {reason})",
            ABNORMAL_BASIS,
            as_of,
        )


def apply(con: duckdb.DuckDBPyConnection, action: Action, on: dt.date, code: str) -> None:
    """Put `action` in force on `on` for `code`'s copy of the records."""
    column = "repair_date" if action.kind == "repair_penalty" else "removed_date"
    con.execute(
        f"UPDATE {action.table} SET {column} = ? WHERE record_id = ? AND uscc = ?",
        [on, action.record_id, code],
    )


@dataclass(frozen=True)
class Scenario:
    """One entity's records, the day its features are computed on, the bank's model."""

    served: ServedModel
    tables: dict[str, pa.Table]
    code: str
    as_of: dt.date

    def outcomes(
        self, con: duckdb.DuckDBPyConnection, scenarios: Sequence[Sequence[Action]]
    ) -> list[dict[str, Any]]:
        """The bank's answer under each scenario (the actions in force): decision, grade, PD,
        limit. Each scenario is a copy of the entity's rows in the scratch store `con`, under
        a code of its own; the pipeline computes them all in one query (its windows are
        partitioned per (code, date) pair, so copies never mix)."""
        copies = [f"S{k:017d}" for k in range(len(scenarios))]  # 18 characters, like a code
        for name in self.tables:
            for copy in copies:
                con.execute(
                    f"INSERT INTO {name} SELECT * REPLACE (CAST(? AS VARCHAR) AS uscc) "
                    f"FROM {name} WHERE uscc = ?",
                    [copy, self.code],
                )
        for copy, applied in zip(copies, scenarios, strict=True):
            for action in applied:
                apply(con, action, self.as_of, copy)
        frame = compute(con, pd.DataFrame({"uscc": copies, "as_of": self.as_of}))
        return [self._decide(row) for _, row in frame.iterrows()]

    def _decide(self, row: pd.Series) -> dict[str, Any]:
        names = self.served.model.spec.names
        features = {n: None if math.isnan(float(row[n])) else float(row[n]) for n in names}
        product = self.served.model.policy_.product
        request = scoring.Request(self.code, product)
        answer = scoring.decide(self.served, request, features, self.as_of.isoformat())
        return {
            "decision": answer.decision,
            "grade": answer.grade_label,
            "pd": answer.pd,
            "limit_cny": answer.limit_cny,
        }


def effect(before: dict[str, Any], after: dict[str, Any]) -> tuple[str, str]:
    """The change in words, Chinese and English."""
    grade = f"{before['grade']} → {after['grade']}"
    limit = f"{before['limit_cny']:,.0f} → {after['limit_cny']:,.0f}"
    return f"等级 {grade}，额度 {limit} 元", f"grade {grade}, limit CNY {limit}"


def advise(served: ServedModel, store_path: Path, code: str, as_of: dt.date) -> dict[str, Any]:
    """The entity's current answer, each lawful action with its effect, and all combined."""
    scenario = Scenario(served, entity_tables(store_path, code), code, as_of)
    with scratch_store(scenario.tables) as con:
        found = actions(con, as_of)
        together = [found] if len(found) > 1 else []
        now, *singles = scenario.outcomes(con, [[], *([a] for a in found), *together])
    advised = [
        {**_described(a), **_effect(now, after)}
        for a, after in zip(found, singles[: len(found)], strict=True)
    ]
    combined = None
    if together:
        combined = {
            "action_ids": [a.action_id for a in found],
            "available_from": max(a.available_from for a in found).isoformat(),
            **_effect(now, singles[-1]),
        }
    return {
        "uscc": code,
        "as_of": as_of.isoformat(),
        "model": {"name": served.name, "version": served.version},
        "policy_version": served.model.policy_.version,
        "current": now,
        "actions": advised,
        "combined": combined,
    }


def _effect(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    zh, en = effect(before, after)
    return {"after": after, "effect_zh": zh, "effect_en": en}


def _described(action: Action) -> dict[str, Any]:
    return {
        "action_id": action.action_id,
        "kind": action.kind,
        "record": {"table": action.table, "record_id": action.record_id},
        "text_zh": action.text_zh,
        "text_en": action.text_en,
        "legal_basis": action.legal_basis,
        "available_from": action.available_from.isoformat(),
    }
