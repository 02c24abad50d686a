"""The rows the financing KPIs count (`serving.console.kpis`): offers, requests, answers, loans."""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from serving.db.models import FinancingAnswer, FinancingRequest, Offer, Outcome

Moment = tuple[dt.datetime, str]


def approved_offers(session: Session) -> list[Moment]:
    """(created_at, uscc) of every pre-approval offer (decision approve), any bank, any status."""
    query = select(Offer.created_at, Offer.uscc).where(Offer.decision == "approve")
    return [(row.created_at, row.uscc) for row in session.execute(query)]


def financing_requests(session: Session) -> list[Moment]:
    """(created_at, request id) of every financing request."""
    query = select(FinancingRequest.created_at, FinancingRequest.id)
    return [(row.created_at, row.id) for row in session.execute(query)]


def financing_answers(session: Session) -> list[tuple[dt.datetime, str, int]]:
    """(created_at, request id, HTTP status) of every bank's answer to a request."""
    query = select(FinancingAnswer.created_at, FinancingAnswer.request_id, FinancingAnswer.status)
    return [(row.created_at, row.request_id, row.status) for row in session.execute(query)]


class Loan(NamedTuple):
    """A loan a bank reported: when, how much, after which request, and what kind."""

    application_date: dt.date
    granted_cny: float
    financing_request_id: str | None
    first_loan: bool | None  # None: not reported
    security: str | None


def granted_loans(session: Session) -> list[Loan]:
    """Every loan a bank reported (granted amount > 0)."""
    query = select(
        Outcome.application_date,
        Outcome.granted_amount_cny,
        Outcome.financing_request_id,
        Outcome.first_loan,
        Outcome.security,
    ).where(Outcome.granted_amount_cny > 0)
    return [
        Loan(r.application_date, float(r.granted_amount_cny), r.financing_request_id,
             r.first_loan, r.security)
        for r in session.execute(query)
    ]  # fmt: skip
