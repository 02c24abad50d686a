"""Promotions to champion as recorded in the service database (append-only)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from serving.db.models import Promotion
from serving.db.notifications import notify_promotion
from training.promotion import PromotionRecord

HISTORY_LIMIT = 100


def record(session: Session, promotion: PromotionRecord) -> Promotion:
    """Store one promotion (the caller commits); at commit every API process hears of it."""
    row = Promotion(
        tenant_id=promotion.tenant,
        model_name=promotion.model_name,
        model_version=promotion.version,
        run_id=promotion.run_id,
        requested_by=promotion.requested_by,
        approved_by=promotion.approved_by,
        gate_passed=promotion.gate_passed,
        reason=promotion.reason,
        override_reason=promotion.override_reason,
        promoted_at=promotion.promoted_at,
    )
    session.add(row)
    session.flush()
    notify_promotion(session, promotion.model_name)
    return row


def history(session: Session, tenant_ids: list[str], limit: int = HISTORY_LIMIT) -> list[Promotion]:
    """Promotions of these tenants' models, newest first."""
    query = (
        select(Promotion)
        .where(Promotion.tenant_id.in_(tenant_ids))
        .order_by(Promotion.promoted_at.desc(), Promotion.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def to_dict(row: Promotion) -> dict[str, Any]:
    """A promotion as the API and the CLI show it."""
    return {
        "tenant": row.tenant_id,
        "model_name": row.model_name,
        "version": row.model_version,
        "run_id": row.run_id,
        "requested_by": row.requested_by,
        "approved_by": row.approved_by,
        "gate_passed": row.gate_passed,
        "reason": row.reason,
        "override_reason": row.override_reason,
        "promoted_at": row.promoted_at.isoformat(),
    }
