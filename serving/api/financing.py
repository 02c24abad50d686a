"""`/v1/financing-requests`: the SME financing platform's requests and the banks' answers."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from serving import financing
from serving.deps import PrincipalDep, ReaderDep, ServicesDep, SessionDep, require
from serving.schemas import FinancingRequestIn

router = APIRouter(prefix="/v1/financing-requests", tags=["financing platform"])


@router.post("", status_code=201, summary="Route an entity's financing request to opted-in banks")
def create(
    body: FinancingRequestIn, principal: PrincipalDep, services: ServicesDep, session: SessionDep
) -> dict[str, Any]:
    """Platform scope: every opted-in bank answers with its own pre-approval."""
    require(principal, "platform")
    return financing.route(services, session, principal.tenant_id, body)


@router.get("/{request_id}", summary="A request with every bank's answer (platform)")
def read(request_id: str, principal: PrincipalDep, session: ReaderDep) -> dict[str, Any]:
    """Platform scope; a request it did not send is answered like a missing one (404)."""
    require(principal, "platform")
    return financing.read(session, principal.tenant_id, request_id[:64])


@router.get("", summary="Requests routed to this bank, with its own answers")
def routed(principal: PrincipalDep, session: ReaderDep) -> dict[str, Any]:
    """A bank sees only the requests routed to it and only its own answer (newest 100)."""
    require(principal, "score")
    return {"requests": financing.routed_to(session, principal.tenant_id)}
