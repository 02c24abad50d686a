"""Financing requests from the SME financing platform, answered by every opted-in bank.

The platform (its tenant, `platform` scope) posts an entity's request; each bank that opted in
(`tenants.financing_opt_in`) answers with its own pre-approval, scored by its own champion and
recorded in its own decisions audit. The platform reads all answers back; a bank lists only
the requests routed to it, with only its own answer.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog import uscc
from catalog.errors import NotFound, PrecreditError
from serving.db.models import FinancingAnswer, FinancingRequest, Tenant, new_id, utcnow
from serving.decision import decisions
from serving.errors import error_body
from serving.schemas import FinancingRequestIn
from serving.state import Services

LIST_LIMIT = 100


def route(
    services: Services, session: Session, platform: str, body: FinancingRequestIn
) -> dict[str, Any]:
    """Store the request and every opted-in bank's answer (one short transaction); the answer.

    The banks score before the write transaction opens: on SQLite a transaction holds the
    write lock, and concurrent requests would otherwise queue behind each other's scoring.
    """
    code = uscc.canonical(body.uscc)
    services.snapshot.row(code)  # an entity the platform does not know: 404 before anything
    banks = session.scalars(
        select(Tenant.id)
        .where(Tenant.financing_opt_in.is_(True), Tenant.platform.is_(False))
        .order_by(Tenant.id)
    ).all()
    session.rollback()  # end the read: no lock is held while the banks score
    scored = [(bank, _evaluate(services, bank, code, body.amount_cny)) for bank in banks]
    request = FinancingRequest(
        id=new_id(),
        tenant_id=platform,
        uscc=code,
        amount_cny=body.amount_cny,
        term_months=body.term_months,
        purpose=body.purpose,
        created_at=utcnow(),
    )
    session.add(request)
    session.flush()
    answers = [_answer(session, request, bank, outcome) for bank, outcome in scored]
    session.add_all(answers)
    session.commit()  # answered from memory: a second transaction could wait for the lock
    return _request_dict(request) | {"answers": [_answer_dict(a) for a in answers]}


def _evaluate(
    services: Services, bank: str, code: str, amount: float | None
) -> decisions.Scored | PrecreditError:
    try:  # the bank's own default product policy (serving.decision.policies)
        return decisions.evaluate(services, bank, code, None, amount)
    except PrecreditError as error:
        return error


def _answer(
    session: Session,
    request: FinancingRequest,
    bank: str,
    outcome: decisions.Scored | PrecreditError,
) -> FinancingAnswer:
    if isinstance(outcome, PrecreditError):
        answer = error_body(outcome.code, outcome.message)
        status, decision_id = outcome.http_status, None
    else:
        recorded = decisions.record(session, [outcome])[0]
        answer = recorded.model_dump(mode="json")
        status, decision_id = 200, recorded.decision_id
    return FinancingAnswer(
        request_id=request.id,
        tenant_id=bank,
        decision_id=decision_id,
        status=status,
        answer_json=decisions_json(answer),
        created_at=utcnow(),
    )


def decisions_json(answer: dict[str, Any]) -> str:
    """An answer as stored (compact, keys sorted)."""
    return json.dumps(answer, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def read(session: Session, platform: str, request_id: str) -> dict[str, Any]:
    """The request with every bank's answer, for the platform that sent it (404 otherwise)."""
    request = session.get(FinancingRequest, request_id)
    if request is None or request.tenant_id != platform:
        raise NotFound("no such financing request")
    answers = session.scalars(
        select(FinancingAnswer)
        .where(FinancingAnswer.request_id == request.id)
        .order_by(FinancingAnswer.tenant_id)
    ).all()
    return _request_dict(request) | {"answers": [_answer_dict(a) for a in answers]}


def routed_to(session: Session, bank: str) -> list[dict[str, Any]]:
    """The newest requests routed to `bank`, each with only this bank's own answer."""
    rows = session.execute(
        select(FinancingRequest, FinancingAnswer)
        .join(FinancingAnswer, FinancingAnswer.request_id == FinancingRequest.id)
        .where(FinancingAnswer.tenant_id == bank)
        .order_by(FinancingAnswer.created_at.desc())
        .limit(LIST_LIMIT)
    ).all()
    return [_request_dict(r) | {"answer": _answer_dict(a)} for r, a in rows]


def _request_dict(request: FinancingRequest) -> dict[str, Any]:
    return {
        "request_id": request.id,
        "uscc": request.uscc,
        "amount_cny": request.amount_cny,
        "term_months": request.term_months,
        "purpose": request.purpose,
        "created_at": request.created_at.isoformat(),
    }


def _answer_dict(answer: FinancingAnswer) -> dict[str, Any]:
    return {
        "bank": answer.tenant_id,
        "status": answer.status,
        "decision_id": answer.decision_id,
        "body": json.loads(answer.answer_json),
    }
