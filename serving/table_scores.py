"""Scoring rows of a bank's own table with its promoted table model, and keeping each answer.

PD is the registered model's, exactly as its offline pyfunc gives it
(`TableModel.score_table`). Grade and decision follow the bank's product policy: the master
scale, and PD <= `approve_max_pd` approves, <= `refer_max_pd` refers, above declines. Reasons
are each column's share of the model's log-odds (`TableModel.contributions`: TreeSHAP for the
LightGBM part, WoE points for the scorecard part), so `base + sum(contributions)` equals the
log-odds the calibrator reads. No limit: a limit needs the platform's bases (tax, social
insurance, utilities) of an identified entity, which `/v1/preapprovals` computes.

Each answer is stored as given (`table_scores`, append-only) with the SHA-256 of the rows.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.errors import NotFound
from models.grades import DEFAULT_SCALE
from models.policy import ProductPolicy
from serving.db.models import TableScore
from serving.decision.table_models import ServedTable
from training.table_model import encode_rows

NO_LIMIT = (
    "a table model scores the bank's own columns; a limit needs the platform's bases of an "
    "identified entity: ask /v1/preapprovals / 表模型仅评估银行自有字段，额度须经 /v1/preapprovals 按平台数据核定"
)


@dataclass(frozen=True)
class ScoreRequest:
    """What to score: the served model, the rows as sent, how many reasons, under which policy."""

    served: ServedTable
    rows: list[dict[str, Any]]
    top: int
    policy: ProductPolicy
    policy_fingerprint: str


def input_sha256(rows: list[dict[str, Any]]) -> str:
    """SHA-256 of the rows in canonical JSON (sorted keys, no spaces)."""
    text = json.dumps(rows, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def score(request: ScoreRequest) -> dict[str, Any]:
    """The answer for every row (PD, grade, decision, reasons), without the stored id."""
    model = request.served.model
    X = encode_rows(pd.DataFrame.from_records(request.rows), model.spec)
    pds = model.predict_proba(X)
    contributions, base = model.contributions(X)
    grades = DEFAULT_SCALE.label(np.clip(pds, 0.0, 1.0))
    rule = request.policy.decision
    answers = []
    for i, row in enumerate(request.rows):
        pd_i = float(pds[i])
        decision = (
            "approve"
            if pd_i <= rule.approve_max_pd
            else "refer"
            if pd_i <= rule.refer_max_pd
            else "decline"
        )
        answers.append(
            {
                "row": i,
                "pd": pd_i,
                "grade": str(grades[i]),
                "decision": decision,
                "log_odds": float(base[i] + contributions[i].sum()),
                "base_log_odds": float(base[i]),
                "reasons": _reasons(model.spec.names, row, contributions[i], request.top),
            }
        )
    served = request.served
    return {
        "model": {
            "name": served.name,
            "version": served.version,
            "fingerprint": served.fingerprint,
        },
        "policy": {
            "product": request.policy.product,
            "version": request.policy.version,
            "fingerprint": request.policy_fingerprint,
            "approve_max_pd": rule.approve_max_pd,
            "refer_max_pd": rule.refer_max_pd,
        },
        "input_sha256": input_sha256(request.rows),
        "limit_note": NO_LIMIT,
        "answers": answers,
    }


def _reasons(
    names: tuple[str, ...], row: dict[str, Any], contributions: np.ndarray, top: int
) -> list[dict[str, Any]]:
    """The `top` columns that raise the PD most (positive log-odds shares), largest first."""
    order = np.argsort(-contributions, kind="stable")
    reasons = []
    for k in order[:top]:
        share = float(contributions[k])
        if share <= 0.0:
            break
        name, value = names[k], row.get(names[k])
        shown = "missing / 缺失" if value is None else str(value)
        reasons.append(
            {
                "column": name,
                "value": value,
                "contribution": share,
                "text_zh": f"{name}（{shown}）推高了违约概率",
                "text_en": f"{name} = {shown} raises the estimated probability of default",
            }
        )
    return reasons


def record(
    session: Session, tenant_id: str, scored_by: str, answer: dict[str, Any]
) -> dict[str, Any]:
    """Store the answer (the caller commits); the answer as stored, with its id and time."""
    row = TableScore(
        tenant_id=tenant_id,
        model_name=answer["model"]["name"],
        model_version=answer["model"]["version"],
        model_fingerprint=answer["model"]["fingerprint"],
        input_sha256=answer["input_sha256"],
        rows=len(answer["answers"]),
        answer=json.dumps(answer, ensure_ascii=False, sort_keys=True),
        scored_by=scored_by,
        scored_at=dt.datetime.now(dt.UTC),
    )
    session.add(row)
    session.flush()
    return _with_record(answer, row)


def stored(session: Session, tenant_id: str, score_id: str) -> dict[str, Any]:
    """A stored answer of this bank (another bank's is answered as missing: 404)."""
    row = session.scalar(
        select(TableScore).where(TableScore.id == score_id, TableScore.tenant_id == tenant_id)
    )
    if row is None:
        raise NotFound("no such table score")
    return _with_record(json.loads(row.answer), row)


def _with_record(answer: dict[str, Any], row: TableScore) -> dict[str, Any]:
    return answer | {
        "score_id": row.id,
        "scored_at": row.scored_at.isoformat(),
        "scored_by": row.scored_by,
    }
