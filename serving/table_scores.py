"""Scoring rows of a bank's own table with its promoted table model, and keeping each answer.

PD is the registered model's, exactly as its offline pyfunc gives it
(`TableModel.score_table`). Grade and decision follow the bank's product policy: the master
scale, and PD <= `approve_max_pd` approves, <= `refer_max_pd` refers, above declines. Reasons
are each column's share of the model's log-odds (`TableModel.contributions`: TreeSHAP for the
LightGBM part, WoE points for the scorecard part), so `base + sum(contributions)` equals the
log-odds the calibrator reads. No limit: a limit needs the platform's bases (tax, social
insurance, utilities) of an identified entity, which `/v1/preapprovals` computes.

A model trained with `--join-platform` also reads the platform's point-in-time features: the
request then names each row's entity (`codes`), and its features come from the snapshot in
service, the same values `/v1/preapprovals` reads, under the bank's consent rule for the scopes
those features read (no consent, no platform data: 403 `consent_required`).

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

from catalog import uscc
from catalog.errors import InvalidInput, NotFound, PrecreditError
from features.definitions import REGISTRY
from models.grades import DEFAULT_SCALE
from models.policy import ProductPolicy
from serving.db.models import TableScore
from serving.decision.table_models import ServedTable
from serving.state import Services
from training.table_model import TableModel, encode_rows

NO_LIMIT = (
    "a table model scores the bank's own columns; a limit needs the platform's bases of an "
    "identified entity: ask /v1/preapprovals / 表模型仅评估银行自有字段，额度须经 /v1/preapprovals 按平台数据核定"
)


@dataclass(frozen=True)
class PlatformPart:
    """The platform's features of each row's entity, from the snapshot in service."""

    as_of: str
    codes: list[str]  # canonical credit codes, one per row
    consent_ids: list[str | None]  # the consent that allowed each (None: not required)
    values: list[dict[str, float | None]]  # feature -> value (None: missing)


@dataclass(frozen=True)
class ScoreRequest:
    """What to score: the served model, the rows as sent, how many reasons, under which policy."""

    served: ServedTable
    rows: list[dict[str, Any]]
    top: int
    policy: ProductPolicy
    policy_fingerprint: str
    platform: PlatformPart | None = None


def platform_features(model: TableModel) -> tuple[str, ...]:
    """The registry features a `--join-platform` model reads (empty for a table-only model)."""
    return tuple(model.meta.get("platform_features", ()))


def join_platform(
    services: Services,
    tenant: str,
    served: ServedTable,
    rows: list[dict[str, Any]],
    codes: list[str] | None,
) -> PlatformPart | None:
    """Each row's entity's platform features as of the snapshot, under the consent rule.

    None for a table-only model (which must be sent no codes). The first row that fails
    (invalid or unknown code, no consent, a platform column sent by the bank) fails the
    request, named by its index.
    """
    names = platform_features(served.model)
    if not names:
        if codes is not None:
            raise InvalidInput("this table model reads no platform features: send no codes")
        return None
    if codes is None or len(codes) != len(rows):
        raise InvalidInput(
            "this table model reads the platform's features: send codes, one credit code per row"
        )
    scopes = REGISTRY.data_scopes(names)
    canonical, consent_ids, values = [], [], []
    for i, (row, code) in enumerate(zip(rows, codes, strict=True)):
        sent = sorted(set(row) & set(names))
        if sent:
            raise InvalidInput(
                f"row {i} carries {sent[0]}, a platform feature: the platform supplies it"
            )
        try:
            found = uscc.canonical(code)
            snapshot_row = services.snapshot.row(found)
            grant = services.consents.grant(tenant, found, scopes)
        except PrecreditError as error:
            error.message = f"row {i}: {error.message}"
            raise
        canonical.append(found)
        consent_ids.append(None if grant is None else grant.id)
        taken = snapshot_row.take(names)
        values.append(
            {n: (None if np.isnan(v) else float(v)) for n, v in zip(names, taken, strict=True)}
        )
    return PlatformPart(services.snapshot.as_of(), canonical, consent_ids, values)


def input_sha256(rows: list[dict[str, Any]], codes: list[str] | None = None) -> str:
    """SHA-256 of the rows (and the codes sent, if any) in canonical JSON."""
    sent: Any = rows if codes is None else {"codes": codes, "rows": rows}
    text = json.dumps(sent, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def score(request: ScoreRequest) -> dict[str, Any]:
    """The answer for every row (PD, grade, decision, reasons), without the stored id."""
    model = request.served.model
    part = request.platform
    rows = request.rows
    if part is not None:
        rows = [row | values for row, values in zip(rows, part.values, strict=True)]
    X = encode_rows(pd.DataFrame.from_records(rows), model.spec)
    pds = model.predict_proba(X)
    contributions, base = model.contributions(X)
    grades = DEFAULT_SCALE.label(np.clip(pds, 0.0, 1.0))
    rule = request.policy.decision
    answers = []
    for i, row in enumerate(rows):
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
                "uscc": None if part is None else part.codes[i],
                "consent_id": None if part is None else part.consent_ids[i],
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
        "input_sha256": input_sha256(request.rows, None if part is None else part.codes),
        "snapshot_as_of": None if part is None else part.as_of,
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
