"""`/v1/decisions`: the stored decision and its bit-for-bit replay."""

from __future__ import annotations

from fastapi import APIRouter

from serving.decision import decisions
from serving.deps import ReaderDep, ScorePrincipal, ServicesDep
from serving.errors import documented
from serving.responses import Replay, StoredDecision

router = APIRouter(prefix="/v1/decisions", tags=["decisions"])


@router.get(
    "/{decision_id}",
    summary="A stored decision, exactly as answered",
    responses=documented(401, 403, 404),
)
def get_decision(decision_id: str, principal: ScorePrincipal, session: ReaderDep) -> StoredDecision:
    """Another bank's decision is answered exactly like a missing one (404)."""
    return StoredDecision.model_validate(
        decisions.stored(session, principal.tenant_id, decision_id[:64])
    )


@router.post(
    "/{decision_id}/replay",
    summary="Recompute with the same model version and inputs",
    responses=documented(401, 403, 404, 503),
)
def replay(
    decision_id: str, principal: ScorePrincipal, services: ServicesDep, session: ReaderDep
) -> Replay:
    """`identical` says whether the recomputed answer equals the stored one byte for byte."""
    return Replay.model_validate(
        decisions.replay(services, session, principal.tenant_id, decision_id[:64])
    )
