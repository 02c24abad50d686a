"""`/v1/consents`: enterprises' authorisations for a bank to use their data (append-only)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from serving import consents
from serving.db import consents as consent_rows
from serving.deps import IdempotencyDep, PrincipalDep, ReaderDep, ScorePrincipal, SessionDep
from serving.errors import documented
from serving.responses import ConsentOut, Consents
from serving.schemas import ConsentIn

router = APIRouter(prefix="/v1/consents", tags=["consents"])
ConsentId = Annotated[str, Path(pattern=r"^[0-9a-f-]{32,36}$", description="the consent's id")]


@router.post(
    "",
    summary="Record an enterprise's consent (bank: for itself; financing platform: for a bank)",
    response_model=ConsentOut,
    responses=documented(401, 403, 404, 409, 413, 422),
)
def record(
    body: ConsentIn, principal: PrincipalDep, session: SessionDep, idempotency: IdempotencyDep
) -> Any:
    """Scope, purpose, validity (at most 3 years) and the signed document's SHA-256."""
    return idempotency.answer(body, lambda: consents.record(session, principal, body))


@router.get(
    "",
    summary="This bank's consents, newest first (for one credit code with `code`)",
    response_model=Consents,
    responses=documented(401, 403, 422),
)
def listed(
    principal: ScorePrincipal,
    session: ReaderDep,
    code: Annotated[str | None, Query(max_length=64)] = None,
) -> dict[str, Any]:
    """Only this bank's consents, revoked and expired ones included, with their status."""
    rows = consent_rows.listed(session, principal.tenant_id, code)
    return {"consents": [consents.to_dict(session, row) for row in rows]}


@router.delete(
    "/{consent_id}",
    summary="Revoke a consent from now (a new fact: the consent itself is never deleted)",
    response_model=ConsentOut,
    responses=documented(401, 403, 404, 409, 422),
)
def revoke(consent_id: ConsentId, principal: PrincipalDep, session: SessionDep) -> dict[str, Any]:
    """The next pre-approval of this entity for this bank no longer counts it."""
    answer = consents.revoke(session, principal, consent_id)
    session.commit()
    return answer
