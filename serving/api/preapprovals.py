"""`/v1/preapprovals`: explained pre-approvals, one or a batch."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, Response

from catalog.errors import PrecreditError
from models.decision import RecordedDecision
from serving.decision import decisions
from serving.deps import ScorePrincipal, ServicesDep
from serving.errors import ApiError, ErrorDetail, documented
from serving.responses import BatchAnswer, BatchItem, answered
from serving.schemas import PreapprovalBatchIn, PreapprovalIn
from serving.state import Services

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


def preapprove_many(
    services: Services, asked: Sequence[tuple[PreapprovalIn, str]]
) -> list[Response | Exception]:
    """`preapprove` for several (body, tenant) requests at once, each answered as if alone.

    The single pre-approvals that wait together on a worker (`serving.coalesce`): each
    tenant's are scored in one model call per served model (`decisions.evaluate_many`, whose
    rows equal `evaluate`'s), and all the audit rows go in one write. A request refused on its
    own (404, 403 consent, 422 product) gets its own error; should scoring a tenant's requests
    together raise, each of them is scored alone, so an error stays with its own request. An
    audit write that fails fails every request whose row it held (503), as a group commit does.
    """
    by_tenant: dict[str, list[int]] = {}
    for index, (_, tenant) in enumerate(asked):
        by_tenant.setdefault(tenant, []).append(index)
    outcomes: dict[int, decisions.Scored | Exception] = {}
    for tenant, indices in by_tenant.items():
        items = [_item(asked[i][0]) for i in indices]
        try:
            scored: list[decisions.Scored | Exception] = list(
                decisions.evaluate_many(services, tenant, items)
            )
        except Exception:  # noqa: BLE001 - answered one by one below, each with its own error
            scored = [_alone(services, tenant, item) for item in items]
        outcomes.update(zip(indices, scored, strict=True))
    answers: dict[int, Response | Exception] = {
        i: o for i, o in outcomes.items() if isinstance(o, Exception)
    }
    to_record = [(i, o) for i, o in outcomes.items() if isinstance(o, decisions.Scored)]
    try:
        recorded = decisions.commit(services, [s for _, s in to_record])
    except Exception as error:  # noqa: BLE001 - every request of this write gets it
        answers.update((i, error) for i, _ in to_record)
    else:
        for (i, _), answer in zip(to_record, recorded, strict=True):
            services.metrics.decision(answer.decision)
            answers[i] = answered(answer)
    return [answers[i] for i in range(len(asked))]


def _item(body: PreapprovalIn) -> tuple[str, str | None, float | None]:
    return body.uscc, body.product, body.requested_amount_cny


def _alone(
    services: Services, tenant: str, item: tuple[str, str | None, float | None]
) -> decisions.Scored | Exception:
    try:
        return decisions.evaluate(services, tenant, *item)
    except Exception as error:  # noqa: BLE001 - this request's own answer
        return error


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
