"""The decisions audit: every answer stored, append-only, hash-chained, readable only by its tenant."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import NotRequired, TypedDict, Unpack, cast

from sqlalchemy import Row, Table, insert, select
from sqlalchemy.orm import Session

from serving.db.audit_chain import chain
from serving.db.models import Decision, new_id, utcnow

DECISIONS = cast(Table, Decision.__table__)  # Core inserts: no ORM bookkeeping per row


class DecisionFields(TypedDict):
    """Everything needed to replay one decision bit for bit.

    `id` and `created_at` default to a new UUID4 and now; pass them when the answer body
    (`response_json`) must carry them (`models.new_id()`, `models.utcnow()`).
    """

    id: NotRequired[str]
    created_at: NotRequired[dt.datetime]
    tenant_id: str
    uscc: str
    product: str
    requested_amount_cny: NotRequired[float | None]
    decision: str  # "approve" | "refer" | "decline"
    limit_cny: float
    pd: float
    grade: str  # master-scale label, as answered
    binding: str
    model_name: str
    model_version: str
    model_sha256: str
    policy_version: str
    policy_fingerprint: str
    registry_fingerprint: str
    snapshot_as_of: dt.date
    input_hash: str  # models.decision.input_hash: code, product, snapshot date, inputs
    features_json: str
    reasons_json: str
    response_json: str  # the exact answer body
    consent_id: NotRequired[str | None]  # the consent it was answered under (None: not required)
    consent_purpose: NotRequired[str | None]


def record_decision(session: Session, **fields: Unpack[DecisionFields]) -> str:
    """Store a decision and return its id; the row can never be changed afterwards."""
    return record_decisions(session, [fields])[0]


def record_decisions(session: Session, rows: Sequence[DecisionFields]) -> list[str]:
    """Store several decisions, chained to their tenants' audit, in one executemany INSERT.

    Their ids, in order. Runs in the caller's transaction, whose commit makes rows and chain
    visible together.
    """
    if not rows:
        return []
    values = completed(rows)
    chain(session, values)
    session.execute(insert(DECISIONS), values)
    return [str(v["id"]) for v in values]


def completed(rows: Sequence[DecisionFields]) -> list[dict[str, object]]:
    """The rows as stored: a new id and the time now where not given, no consent if none."""
    now = utcnow()
    return [
        {"id": new_id(), "created_at": now, "consent_id": None, "consent_purpose": None, **row}
        for row in rows
    ]


def get_decision(session: Session, tenant_id: str, decision_id: str) -> Decision | None:
    """The tenant's decision; another tenant's id gives None, exactly like a missing one."""
    decision = session.get(Decision, decision_id)
    if decision is None or decision.tenant_id != tenant_id:
        return None
    return decision


def pds_since(session: Session, tenant_id: str, since: dt.datetime) -> list[float]:
    """The PDs of the tenant's decisions made since `since`."""
    query = select(Decision.pd).where(Decision.tenant_id == tenant_id, Decision.created_at >= since)
    return [float(pd) for pd in session.scalars(query)]


def newest_decisions(
    session: Session, tenant_id: str, start: dt.datetime, end: dt.datetime, limit: int
) -> Sequence[Row[str, str, float, str]]:
    """The tenant's newest decisions in [start, end), at most `limit`: model, PD and inputs."""
    return session.execute(
        select(Decision.model_name, Decision.model_version, Decision.pd, Decision.features_json)
        .where(
            Decision.tenant_id == tenant_id, Decision.created_at >= start, Decision.created_at < end
        )
        .order_by(Decision.created_at.desc())
        .limit(limit)
    ).all()


def decisions_between(
    session: Session, tenant_id: str, since: dt.datetime, end: dt.datetime
) -> Sequence[Row[dt.datetime, str, str, str]]:
    """Every decision of the tenant in [since, end): when, what, and which model."""
    return session.execute(
        select(
            Decision.created_at, Decision.decision, Decision.model_name, Decision.model_version
        ).where(
            Decision.tenant_id == tenant_id, Decision.created_at >= since, Decision.created_at < end
        )
    ).all()
