"""The financing KPIs per month, from what the service database holds; none is estimated.

Months are China-time calendar months of when the platform saw the fact (an offer, a request,
an answer) or of a loan's application date. Figures the data cannot support are reported as
such with the reason, never filled in.
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
NOT_COMPUTABLE = {
    "first_loan_share": (
        "无法计算：银行回传的贷款结果不含该企业此前是否在任何银行获得过贷款（首贷），"
        "平台只看到回传给它的贷款。",
        "Cannot be computed: the loan outcomes banks report do not say whether the loan is the "
        "enterprise's first loan from any bank; the platform sees only loans reported to it.",
    ),
    "credit_loan_share": (
        "无法计算：贷款结果不含担保方式（信用、保证、抵押），无法区分信用贷款。",
        "Cannot be computed: loan outcomes carry no security type (credit, guarantee, "
        "collateral), so credit (unsecured) loans cannot be told apart.",
    ),
}


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
    for day, amount, linked in rows.granted_loans(session):
        month = table[_month(day)]
        month["loans"] = month.get("loans", 0) + 1
        month["granted_cny"] = month.get("granted_cny", 0.0) + amount
        month["from_requests"] = month.get("from_requests", 0) + int(linked is not None)
    return table


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
        }
        for month, v in sorted(_months(session).items())
    ]
    return {
        "months": lines,
        "not_computable": {name: {"zh": zh, "en": en} for name, (zh, en) in NOT_COMPUTABLE.items()},
    }
