"""`/v1/entities/{code}/evaluation`: the platform's public credit grade of one entity."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from catalog import uscc
from serving import evaluation
from serving.deps import PrincipalDep, ServicesDep
from serving.errors import documented
from serving.responses import Evaluation
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
