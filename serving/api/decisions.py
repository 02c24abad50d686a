"""`/v1/decisions`: the stored decision and its bit-for-bit replay."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from serving.decision import decisions
from serving.deps import PrincipalDep, ReaderDep, ServicesDep, require

router = APIRouter(prefix="/v1/decisions", tags=["decisions"])


@router.get("/{decision_id}", summary="A stored decision, exactly as answered")
def get_decision(decision_id: str, principal: PrincipalDep, session: ReaderDep) -> dict[str, Any]:
    """Another bank's decision is answered exactly like a missing one (404)."""
    require(principal, "score")
    return decisions.stored(session, principal.tenant_id, decision_id[:64])


@router.post("/{decision_id}/replay", summary="Recompute with the same model version and inputs")
def replay(
    decision_id: str, principal: PrincipalDep, services: ServicesDep, session: ReaderDep
) -> dict[str, Any]:
    """`identical` says whether the recomputed answer equals the stored one byte for byte."""
    require(principal, "score")
    return decisions.replay(services, session, principal.tenant_id, decision_id[:64])
