"""The financing KPIs per month, from what the service database holds; none is estimated.

Months are China-time calendar months of when the platform saw the fact (an offer, a request,
an answer) or of a loan's application date. The first-loan and credit-loan shares count the
loans whose bank reported `first_loan` and `security` with the outcome; a month where none did
has no share (null, shown as such), never an estimate.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from sqlalchemy.orm import Session

from platform_services.deadlines import local_date
from serving.db import kpis as rows

DECIDED = 200  # a financing answer's status when the bank decided
ENTERPRISE = "91"  # credit-code positions 1-2 of an enterprise (DOMAIN.md §2)
CREDIT = "credit"  # 信用: a loan with no guarantee, collateral or pledge


def _month(moment: dt.datetime | dt.date) -> str:
    day = local_date(moment) if isinstance(moment, dt.datetime) else moment
    return f"{day.year:04d}-{day.month:02d}"


def _months(session: Session) -> dict[str, dict[str, Any]]:
    table: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"preapproved": set(), "requests": 0, "answered": set(), "answers": 0}
    )
    for at, code in rows.approved_offers(session):
        table[_month(at)]["preapproved"].add(code)
    for at, _ in rows.financing_requests(session):
        table[_month(at)]["requests"] += 1
    for at, request_id, status in rows.financing_answers(session):
        if status == DECIDED:  # an answer that was an error is no decision
            table[_month(at)]["answers"] += 1
            table[_month(at)]["answered"].add(request_id)
    for loan in rows.granted_loans(session):
        month = table[_month(loan.application_date)]
        month["loans"] = month.get("loans", 0) + 1
        month["granted_cny"] = month.get("granted_cny", 0.0) + loan.granted_cny
        month["from_requests"] = month.get("from_requests", 0) + int(
            loan.financing_request_id is not None
        )
        if loan.first_loan is not None:
            month["first_reported"] = month.get("first_reported", 0) + 1
            month["first"] = month.get("first", 0) + int(loan.first_loan)
        if loan.security is not None:
            month["security_reported"] = month.get("security_reported", 0) + 1
            month["credit"] = month.get("credit", 0) + int(loan.security == CREDIT)
    return table


def _share(part: int, whole: int) -> float | None:
    """part / whole to 4 places; None when no loan of the month reports it (not zero)."""
    return round(part / whole, 4) if whole else None


def monthly(session: Session) -> dict[str, Any]:
    """Per month: pre-approved entities (and enterprises among them), financing requests,
    requests a bank decided, banks' decisions, loans granted and those that followed a request."""
    lines = [
        {
            "month": month,
            "preapproved_entities": len(v["preapproved"]),
            "preapproved_enterprises": sum(c.startswith(ENTERPRISE) for c in v["preapproved"]),
            "financing_requests": v["requests"],
            "requests_answered": len(v["answered"]),
            "answers": v["answers"],
            "loans_granted": v.get("loans", 0),
            "granted_cny": round(v.get("granted_cny", 0.0), 2),
            "loans_from_requests": v.get("from_requests", 0),
            # shares among the loans whose bank reported the fact (`first_loan`, `security` on
            # POST /v1/outcomes); None when none did
            "loans_reporting_first_loan": v.get("first_reported", 0),
            "first_loan_share": _share(v.get("first", 0), v.get("first_reported", 0)),
            "loans_reporting_security": v.get("security_reported", 0),
            "credit_loan_share": _share(v.get("credit", 0), v.get("security_reported", 0)),
        }
        for month, v in sorted(_months(session).items())
    ]
    return {"months": lines}
