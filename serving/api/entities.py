"""`/v1/entities/{code}/...`: the platform's grade of one entity, and advice on improving it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter

from catalog import uscc
from serving import advice, evaluation
from serving.deps import FilerPrincipal, PrincipalDep, ServicesDep
from serving.errors import documented
from serving.responses import Advice, Evaluation
from serving.schemas import CodeInPath

router = APIRouter(prefix="/v1/entities", tags=["public credit evaluation"])


@router.get(
    "/{code}/evaluation",
    summary="Public credit composite evaluation (A/B/C/D) of one entity",
    response_model=Evaluation,
    responses=documented(401, 404, 422, 503),
)
def evaluate(code: CodeInPath, principal: PrincipalDep, services: ServicesDep) -> dict[str, Any]:
    """Tenant-neutral: any valid key may read grades; nothing is stored."""
    canonical = uscc.canonical(code[:64])
    return evaluation.evaluation(canonical, services.snapshot.row(canonical))


@router.get(
    "/{code}/advice",
    summary="Lawful steps that would improve an entity's answer, each recomputed",
    response_model=Advice,
    responses=documented(401, 403, 404, 422, 503),
    tags=["improvement advice"],
)
def advise(code: CodeInPath, principal: FilerPrincipal, services: ServicesDep) -> dict[str, Any]:
    """Your own model and policy (score or platform key); only the platform's public records."""
    canonical = uscc.canonical(code[:64])
    services.snapshot.row(canonical)  # an entity the platform does not know: 404
    tenant = principal.tenant_id
    served = services.policies.served(services.models.get(tenant), tenant, None)
    as_of = dt.date.fromisoformat(services.snapshot.as_of())
    return advice.advise(served, services.settings.store, canonical, as_of)
