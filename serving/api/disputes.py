"""`/v1/disputes`: disputes (异议) and credit-repair applications, answered in 2 working days."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from platform_services.deadlines import local_date
from serving.db import disputes as rows
from serving.db import repo
from serving.db.models import utcnow
from serving.deps import (
    CaseReaderPrincipal,
    FilerPrincipal,
    IdempotencyDep,
    OperatorPrincipal,
    ReaderDep,
    ServicesDep,
    SessionDep,
)
from serving.disputes import cases
from serving.disputes.responses import DisputeList, DisputeOut
from serving.errors import documented
from serving.schemas import DisputeIn, DisputeStateIn

router = APIRouter(prefix="/v1/disputes", tags=["disputes and credit repair"])


def _visible_to(principal: repo.Principal) -> str | None:
    """Whose cases a key sees: an operator every case (None), anyone else its own."""
    return None if "operator" in principal.scopes else principal.tenant_id


@router.post(
    "",
    status_code=201,
    summary="File a dispute or a credit-repair application for an enterprise",
    response_model=DisputeOut,
    responses=documented(401, 403, 404, 409, 413, 422, 503),
)
def create(
    body: DisputeIn,
    principal: FilerPrincipal,
    services: ServicesDep,
    session: SessionDep,
    idempotency: IdempotencyDep,
) -> Any:
    """Bank (score) or financing platform (platform) key; due in 2 Chinese working days.

    With an `Idempotency-Key`, a retry answers the case already filed (no second case).
    """
    lookup = cases.store_lookup(services.settings.store)

    def run() -> dict[str, Any]:
        now = utcnow()
        case = cases.file_case(session, lookup, principal.tenant_id, body, now)
        return cases.answer(session, case, now)

    return idempotency.answer(body, run, status=201)


@router.get(
    "/{dispute_id}",
    summary="A case with its deadline and audit trail",
    response_model=DisputeOut,
    responses=documented(401, 403, 404),
)
def read(dispute_id: str, principal: CaseReaderPrincipal, session: ReaderDep) -> dict[str, Any]:
    """Your own case (an operator: any case); anyone else's is a 404."""
    case = rows.get_case(session, dispute_id[:64], _visible_to(principal))
    return cases.answer(session, case, utcnow())


@router.get(
    "",
    summary="Your cases (an operator: every case); overdue ones oldest due first",
    response_model=DisputeList,
    responses=documented(401, 403),
)
def listed(
    principal: CaseReaderPrincipal,
    session: ReaderDep,
    overdue: Annotated[bool, Query(description="Only open cases past their due day")] = False,
) -> dict[str, Any]:
    """Newest first, at most 500; `overdue=true`: every open case past its due day."""
    now, whose = utcnow(), _visible_to(principal)
    found = (
        rows.overdue_cases(session, whose, local_date(now))
        if overdue
        else rows.list_cases(session, whose)
    )
    return {"disputes": [cases.answer(session, c, now) for c in found]}


@router.post(
    "/{dispute_id}/state",
    summary="Move a case: received -> checking -> corrected | rejected (operator)",
    response_model=DisputeOut,
    responses=documented(401, 403, 404, 409, 413, 422),
)
def set_state(
    dispute_id: str, body: DisputeStateIn, principal: OperatorPrincipal, session: SessionDep
) -> dict[str, Any]:
    """Operator scope; an illegal step is 409 `illegal_transition`, the case unchanged."""
    now = utcnow()
    case = cases.set_state(session, dispute_id[:64], body, repo.identity(principal), now)
    answer = cases.answer(session, case, now)
    session.commit()
    return answer
