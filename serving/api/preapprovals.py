"""`/v1/preapprovals`: explained pre-approvals, one or a batch."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from catalog.errors import PrecreditError
from models.decision import RecordedDecision
from serving.decision import decisions
from serving.deps import PrincipalDep, ServicesDep, require
from serving.errors import ApiError, error_body
from serving.schemas import PreapprovalBatchIn, PreapprovalIn

router = APIRouter(prefix="/v1/preapprovals", tags=["pre-approvals"])


@router.post("", summary="Pre-approve one entity: decision, limit, PD, grade, reasons")
def preapprove(
    body: PreapprovalIn, principal: PrincipalDep, services: ServicesDep
) -> RecordedDecision:
    """Score one credit code with the tenant's champion model; answer once it is recorded."""
    require(principal, "score")
    answer = decisions.score(
        services, principal.tenant_id, body.uscc, body.product, body.requested_amount_cny
    )
    services.metrics.decision(answer.decision)
    return answer


@router.post("/batch", summary="Pre-approve several entities; each item is answered on its own")
def preapprove_batch(
    body: PreapprovalBatchIn, principal: PrincipalDep, services: ServicesDep
) -> dict[str, Any]:
    """An invalid code fails only its own item, with its reason.

    Every item is scored first; the audit rows are then committed together (with other
    requests' rows), so the service database's write lock is never held while a model runs.
    """
    require(principal, "score")
    if len(body.items) > services.settings.max_batch:
        raise ApiError(
            422, "batch_too_large", f"at most {services.settings.max_batch} items per call"
        )
    results: list[dict[str, Any]] = []
    scored: list[tuple[int, decisions.Scored]] = []
    for index, item in enumerate(body.items):
        try:
            scored.append(
                (
                    index,
                    decisions.evaluate(
                        services,
                        principal.tenant_id,
                        item.uscc,
                        item.product,
                        item.requested_amount_cny,
                    ),
                )
            )
        except PrecreditError as error:
            if error.http_status == 503:
                raise
            results.append(
                {
                    "index": index,
                    "status": error.http_status,
                    **error_body(error.code, error.message, **_reason(error)),
                }
            )
    answers = decisions.commit(services, [s for _, s in scored])
    for (index, _), answer in zip(scored, answers, strict=True):
        services.metrics.decision(answer.decision)
        results.append({"index": index, "status": 200, "result": answer.model_dump(mode="json")})
    return {"results": sorted(results, key=lambda r: int(r["index"]))}


def _reason(error: PrecreditError) -> dict[str, str]:
    reason = getattr(error, "reason", None)
    return {"reason": reason} if isinstance(reason, str) else {}
