"""`/v1/financing-requests`: the SME financing platform's requests and the banks' answers."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from serving import financing
from serving.deps import PlatformPrincipal, ReaderDep, ScorePrincipal, ServicesDep, SessionDep
from serving.errors import documented
from serving.responses import FinancingRequestAnswers, RoutedRequests
from serving.schemas import FinancingRequestIn

router = APIRouter(prefix="/v1/financing-requests", tags=["financing platform"])


@router.post(
    "",
    status_code=201,
    summary="Route an entity's financing request to opted-in banks",
    response_model=FinancingRequestAnswers,
    responses=documented(401, 403, 404, 413, 422, 503),
)
def create(
    body: FinancingRequestIn,
    principal: PlatformPrincipal,
    services: ServicesDep,
    session: SessionDep,
) -> dict[str, Any]:
    """Platform scope: every opted-in bank answers with its own pre-approval."""
    return financing.route(services, session, principal.tenant_id, body)


@router.get(
    "/{request_id}",
    summary="A request with every bank's answer (platform)",
    response_model=FinancingRequestAnswers,
    responses=documented(401, 403, 404),
)
def read(request_id: str, principal: PlatformPrincipal, session: ReaderDep) -> dict[str, Any]:
    """Platform scope; a request it did not send is answered like a missing one (404)."""
    return financing.read(session, principal.tenant_id, request_id[:64])


@router.get(
    "",
    summary="Requests routed to this bank, with its own answers",
    response_model=RoutedRequests,
    responses=documented(401, 403),
)
def routed(principal: ScorePrincipal, session: ReaderDep) -> dict[str, Any]:
    """A bank sees only the requests routed to it and only its own answer (newest 100)."""
    return {"requests": financing.routed_to(session, principal.tenant_id)}
