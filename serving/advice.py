"""Improvement advice: the lawful steps open to an entity and what each would change.

For one entity and one bank, the entity's own records are copied into a scratch in-memory
DuckDB store; each action (`serving.advice_actions`: repair a penalty, leave the
abnormal-operations list, clear social-insurance arrears, file overdue tax returns) is applied
there and the features are recomputed by the one point-in-time pipeline and scored with the
bank's served model and policy. Advice proposes only what the entity may lawfully do itself.

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
from serving.advice_actions import Action, actions, apply
from serving.decision import scoring
from serving.decision.model_store import ServedModel


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
    described: dict[str, Any] = {
        "action_id": action.action_id,
        "kind": action.kind,
        "record": {"table": action.table, "record_id": action.record_id},
        "text_zh": action.text_zh,
        "text_en": action.text_en,
        "legal_basis": action.legal_basis,
        "available_from": action.available_from.isoformat(),
    }
    if action.periods:
        described["periods"] = [end.isoformat() for end in action.periods]
    return described
