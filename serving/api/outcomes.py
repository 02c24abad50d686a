"""`/v1/outcomes`: banks' actual loan results, stored once, idempotent per bank."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Annotated, Any

from fastapi import APIRouter, Header
from fastapi.responses import JSONResponse

from catalog import uscc
from serving.db import repo
from serving.deps import PrincipalDep, ServicesDep, SessionDep, require
from serving.errors import ApiError
from serving.schemas import OutcomeBatchIn, OutcomeIn

router = APIRouter(prefix="/v1/outcomes", tags=["outcomes"])
ENDPOINT = "POST /v1/outcomes"


def _fields(index: int, item: OutcomeIn) -> repo.OutcomeFields:
    if item.default_flag and item.default_date is None:
        raise ApiError(422, "invalid_input", f"outcome {index}: a default needs its default_date")
    if item.observation_date > dt.date.today() + dt.timedelta(days=1):
        raise ApiError(422, "invalid_input", f"outcome {index}: observation_date is in the future")
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
    }


def _store(session: Any, tenant: str, items: list[OutcomeIn]) -> dict[str, Any]:
    fields = [_fields(i, item) for i, item in enumerate(items)]  # validate all before writing
    results = [
        {"loan_id": f["loan_id"], "result": repo.upsert_outcome(session, tenant, f)} for f in fields
    ]
    return {"stored": len(results), "results": results}


@router.post("", summary="Report loan outcomes (one object, or {'outcomes': [...]})")
def report(
    body: OutcomeIn | OutcomeBatchIn,
    principal: PrincipalDep,
    services: ServicesDep,
    session: SessionDep,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> Any:
    """The same loan twice is one row, updated only by a newer observation; retries are safe."""
    require(principal, "outcomes")
    items = body.outcomes if isinstance(body, OutcomeBatchIn) else [body]
    if len(items) > services.settings.max_batch * 10:
        raise ApiError(
            422, "batch_too_large", f"at most {services.settings.max_batch * 10} outcomes per call"
        )
    if idempotency_key is None:
        answer = _store(session, principal.tenant_id, items)
        session.commit()
        return answer
    digest = hashlib.sha256(body.model_dump_json().encode()).hexdigest()
    claim = repo.claim_idempotency(session, principal.tenant_id, idempotency_key, ENDPOINT, digest)
    if claim.status == "replay":
        session.rollback()
        return JSONResponse(
            json.loads(claim.response_json or "{}"),
            status_code=claim.status_code or 200,
            headers={"Idempotent-Replayed": "true"},
        )
    if claim.status == "conflict":
        raise ApiError(
            422, "idempotency_key_reused", "this Idempotency-Key was used with a different body"
        )
    if claim.status == "in_progress":
        raise ApiError(
            409, "idempotency_in_progress", "a request with this Idempotency-Key is still running"
        )
    answer = _store(session, principal.tenant_id, items)
    repo.complete_idempotency(
        session, principal.tenant_id, idempotency_key, 200, json.dumps(answer)
    )
    session.commit()
    return answer
