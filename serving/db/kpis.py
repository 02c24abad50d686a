"""The rows the financing KPIs count (`serving.console.kpis`): offers, requests, answers, loans."""

from __future__ import annotations

import datetime as dt

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


def granted_loans(session: Session) -> list[tuple[dt.date, float, str | None]]:
    """(application date, granted CNY, financing request id) of every loan a bank reported."""
    query = select(
        Outcome.application_date, Outcome.granted_amount_cny, Outcome.financing_request_id
    ).where(Outcome.granted_amount_cny > 0)
    return [
        (row.application_date, float(row.granted_amount_cny), row.financing_request_id)
        for row in session.execute(query)
    ]
