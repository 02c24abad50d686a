"""`/v1/outcomes`: banks' actual loan results, stored once, idempotent per bank."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query

from catalog import uscc
from serving import outcome_checks
from serving.db import repo
from serving.db.linked import linked_loans
from serving.deps import IdempotencyDep, OutcomesPrincipal, ReaderDep, ServicesDep, SessionDep
from serving.errors import ApiError, documented
from serving.responses import LinkedPerformance, OutcomesStored
from serving.schemas import IsoDate, OutcomeBatchIn, OutcomeIn
from training import performance as realised

router = APIRouter(prefix="/v1/outcomes", tags=["outcomes"])


def _fields(item: OutcomeIn) -> repo.OutcomeFields:
    return {
        "loan_id": item.loan_id,
        "uscc": uscc.canonical(item.uscc),
        "application_date": item.application_date,
        "granted_amount_cny": item.granted_amount_cny,
        "drawn_amount_cny": item.drawn_amount_cny,
        "default_flag": item.default_flag,
        "default_date": item.default_date,
        "max_dpd": item.max_dpd,
        "dpd_history_json": json.dumps(item.dpd_history) if item.dpd_history is not None else None,
        "observation_date": item.observation_date,
        "decision_id": item.decision_id,
        "offer_id": item.offer_id,
        "financing_request_id": item.financing_request_id,
        "explore": item.explore,
        "first_loan": item.first_loan,
        "security": item.security,
    }


def _store(session: Any, tenant: str, items: list[OutcomeIn]) -> dict[str, Any]:
    outcome_checks.check(
        items, outcome_checks.today()
    )  # every item checked before anything is written
    outcome_checks.check_links(session, tenant, items)
    fields = [_fields(item) for item in items]
    results = [
        {"loan_id": f["loan_id"], "result": repo.upsert_outcome(session, tenant, f)} for f in fields
    ]
    return {"stored": len(results), "results": results}


@router.post(
    "",
    summary="Report loan outcomes (one object, or {'outcomes': [...]})",
    response_model=OutcomesStored,
    responses=documented(401, 403, 409, 413, 422),
)
def report(
    body: OutcomeIn | OutcomeBatchIn,
    principal: OutcomesPrincipal,
    services: ServicesDep,
    session: SessionDep,
    idempotency: IdempotencyDep,
) -> Any:
    """The same loan twice is one row, updated only by a newer observation; retries are safe."""
    items = body.outcomes if isinstance(body, OutcomeBatchIn) else [body]
    if len(items) > services.settings.max_batch * 10:
        raise ApiError(
            422, "batch_too_large", f"at most {services.settings.max_batch * 10} outcomes per call"
        )
    return idempotency.answer(body, lambda: _store(session, principal.tenant_id, items))


@router.get(
    "/performance",
    summary="Realised performance by decision, model version and product (linked outcomes)",
    response_model=LinkedPerformance,
    responses=documented(401, 403, 422),
)
def linked_performance(
    principal: OutcomesPrincipal,
    session: ReaderDep,
    as_of: IsoDate | None = None,
    horizon_months: Annotated[int, Query(ge=1, le=60)] = 12,
) -> dict[str, Any]:
    """Matured loans reported with a decision_id, offer_id or financing_request_id only."""
    day = as_of or outcome_checks.today()
    loans = linked_loans(session, principal.tenant_id, day, horizon_months)
    rows = realised.by_decision(loans)
    return {"as_of": day.isoformat(), "horizon_months": horizon_months, "rows": rows}
