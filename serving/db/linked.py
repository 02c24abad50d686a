"""Matured outcomes with the decision, offer or financing answer they are linked to."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from serving.db.models import Decision, FinancingAnswer, Offer
from serving.db.outcomes import matured_outcomes

LINKS = ("decision_id", "offer_id", "financing_request_id")
COLUMNS = ("source", "model_version", "product", "policy_version", "decision", "pd", "label")


def linked_loans(session: Session, tenant: str, as_of: dt.date, horizon: int) -> pd.DataFrame:
    """One row per matured, linked loan: what decided it (model, product, policy) and its label."""
    loans = [o for o in matured_outcomes(session, tenant, as_of, horizon) if _linked(o)]
    financed = _financed(session, tenant, {o.financing_request_id for o in loans})
    decisions = _decisions(session, tenant, {o.decision_id for o in loans} | set(financed.values()))
    offers = _offers(session, tenant, {o.offer_id for o in loans})
    rows = []
    for loan in loans:
        made, source = _maker(loan, decisions, offers, financed)
        if made is not None:
            rows.append((source, made.model_version, made.product, made.policy_version or "",
                         made.decision, made.pd, int(loan.default_flag)))  # fmt: skip
    return pd.DataFrame(rows, columns=list(COLUMNS))


def preapprovals(session: Session, tenant: str, links: pd.DataFrame) -> pd.DataFrame:
    """What pre-approved each loan: source, decision and limit, by its links; NaN if none.

    `links` holds `decision_id`, `offer_id` and `financing_request_id` per loan (None where not
    linked); a decision id wins over an offer, an offer over a financing request (the decision
    the bank's financing answer was made with).
    """
    found = {key: links[key].dropna().tolist() for key in LINKS}
    financed = _financed(session, tenant, set(found["financing_request_id"]))
    decisions = _decisions(session, tenant, set(found["decision_id"]) | set(financed.values()))
    offers = _offers(session, tenant, set(found["offer_id"]))
    rows = []
    for loan in links[list(LINKS)].itertuples(index=False):
        made, source = _maker(loan, decisions, offers, financed)
        rows.append((None, None, None) if made is None else (source, made.decision, made.limit_cny))
    frame = pd.DataFrame(rows, columns=["source", "decision", "limit_cny"], index=links.index)
    return frame.astype({"limit_cny": "float64"})


def _linked(outcome: Any) -> bool:
    return any((outcome.decision_id, outcome.offer_id, outcome.financing_request_id))


def _maker(
    loan: Any, decisions: dict[str, Any], offers: dict[str, Any], financed: dict[str, str]
) -> tuple[Any, str]:
    if loan.decision_id in decisions:
        return decisions[loan.decision_id], "decision"
    if loan.offer_id in offers:
        return offers[loan.offer_id], "offer"
    decision_id = financed.get(loan.financing_request_id or "")
    return decisions.get(decision_id or ""), "financing_request"


def _decisions(session: Session, tenant: str, ids: set[str | None]) -> dict[str, Any]:
    wanted = sorted(i for i in ids if i)
    query = select(Decision).where(Decision.tenant_id == tenant, Decision.id.in_(wanted))
    return {row.id: row for row in session.scalars(query)} if wanted else {}


def _offers(session: Session, tenant: str, ids: set[str | None]) -> dict[str, Any]:
    wanted = sorted(i for i in ids if i)
    query = select(Offer).where(Offer.tenant_id == tenant, Offer.id.in_(wanted))
    return {row.id: row for row in session.scalars(query)} if wanted else {}


def _financed(session: Session, tenant: str, ids: set[str | None]) -> dict[str, str]:
    wanted = sorted(i for i in ids if i)
    if not wanted:
        return {}
    rows = session.execute(
        select(FinancingAnswer.request_id, FinancingAnswer.decision_id).where(
            FinancingAnswer.tenant_id == tenant, FinancingAnswer.request_id.in_(wanted)
        )
    ).all()
    return {request: decision for request, decision in rows if decision}
