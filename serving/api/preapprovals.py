"""`/v1/preapprovals`: explained pre-approvals, one or a batch."""

from __future__ import annotations

from fastapi import APIRouter, Response

from catalog.errors import PrecreditError
from models.decision import RecordedDecision
from serving.decision import decisions
from serving.deps import ScorePrincipal, ServicesDep
from serving.errors import ApiError, ErrorDetail, documented
from serving.responses import BatchAnswer, BatchItem, answered
from serving.schemas import PreapprovalBatchIn, PreapprovalIn

router = APIRouter(prefix="/v1/preapprovals", tags=["pre-approvals"])


@router.post(
    "",
    summary="Pre-approve one entity: decision, limit, PD, grade, reasons",
    response_model=RecordedDecision,
    responses=documented(401, 403, 404, 413, 422, 503),
)
def preapprove(body: PreapprovalIn, principal: ScorePrincipal, services: ServicesDep) -> Response:
    """Score one credit code with the tenant's champion model; answer once it is recorded."""
    answer = decisions.score(
        services, principal.tenant_id, body.uscc, body.product, body.requested_amount_cny
    )
    services.metrics.decision(answer.decision)
    return answered(answer)


@router.post(
    "/batch",
    summary="Pre-approve several entities; each item is answered on its own",
    response_model=BatchAnswer,
    responses=documented(401, 403, 413, 422, 503),
)
def preapprove_batch(
    body: PreapprovalBatchIn, principal: ScorePrincipal, services: ServicesDep
) -> Response:
    """An invalid code fails only its own item, with its reason.

    Every item is scored first; the audit rows are then committed together (with other
    requests' rows), so the service database's write lock is never held while a model runs.
    """
    if len(body.items) > services.settings.max_batch:
        raise ApiError(
            422, "batch_too_large", f"at most {services.settings.max_batch} items per call"
        )
    results: list[BatchItem] = []
    scored: list[tuple[int, decisions.Scored]] = []
    items = [(i.uscc, i.product, i.requested_amount_cny) for i in body.items]
    for index, outcome in enumerate(decisions.evaluate_many(services, principal.tenant_id, items)):
        if isinstance(outcome, PrecreditError):
            detail = ErrorDetail(
                code=outcome.code, message=outcome.message, reason=_reason(outcome)
            )
            results.append(BatchItem(index=index, status=outcome.http_status, error=detail))
        else:
            scored.append((index, outcome))
    answers = decisions.commit(services, [s for _, s in scored])
    for (index, _), answer in zip(scored, answers, strict=True):
        services.metrics.decision(answer.decision)
        results.append(BatchItem(index=index, status=200, result=answer))
    return answered(BatchAnswer(results=sorted(results, key=lambda item: item.index)))


def _reason(error: PrecreditError) -> str | None:
    reason = getattr(error, "reason", None)
    return reason if isinstance(reason, str) else None
