"""Loan outcomes reported by banks: one row per loan, the newest observation wins."""

from __future__ import annotations

import calendar
import datetime as dt
from typing import Any, Literal, NotRequired, TypedDict, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from catalog.errors import InvalidInput
from serving.db.models import Outcome, utcnow

UpsertResult = Literal["created", "updated", "unchanged"]


class OutcomeFields(TypedDict):
    """One loan as the bank observed it on `observation_date`."""

    loan_id: str
    uscc: str
    application_date: dt.date
    granted_amount_cny: float
    drawn_amount_cny: float
    default_flag: bool
    default_date: NotRequired[dt.date | None]
    max_dpd: NotRequired[int | None]
    dpd_history_json: NotRequired[str | None]
    observation_date: dt.date
    decision_id: NotRequired[str | None]
    offer_id: NotRequired[str | None]
    financing_request_id: NotRequired[str | None]
    explore: NotRequired[bool]
    first_loan: NotRequired[bool | None]
    security: NotRequired[str | None]


_OPTIONAL = {
    "default_date": None,
    "max_dpd": None,
    "dpd_history_json": None,
    "decision_id": None,
    "offer_id": None,
    "financing_request_id": None,
    "explore": False,
    "first_loan": None,
    "security": None,
}


def upsert_outcome(session: Session, tenant_id: str, fields: OutcomeFields) -> UpsertResult:
    """Store a loan report; an existing loan changes only for a strictly newer observation_date.

    Race-safe: when a concurrent request inserts the same loan first, the unique constraint
    refuses ours inside a SAVEPOINT and the report is applied as an update instead.
    """
    values = _values(fields)
    if _update_if_newer(session, tenant_id, values):
        return "updated"
    if _exists(session, tenant_id, values["loan_id"]):
        # The row may have been committed by another request between our UPDATE (which did
        # not see it) and this check: try the update again now that it is visible.
        return "updated" if _update_if_newer(session, tenant_id, values) else "unchanged"
    try:
        with session.begin_nested():
            session.add(Outcome(tenant_id=tenant_id, **values))
    except IntegrityError:
        if not _exists(session, tenant_id, values["loan_id"]):
            raise  # not the (tenant_id, loan_id) constraint: a real error
        return "updated" if _update_if_newer(session, tenant_id, values) else "unchanged"
    return "created"


def matured_outcomes(
    session: Session, tenant_id: str, as_of_date: dt.date, horizon_months: int = 12
) -> list[Outcome]:
    """Loans with application_date + horizon <= as_of, observed through that window or defaulted.

    A loan last reported before its window closed, and not in default, is left out: its
    "no default" is not yet a good (no false negatives from immature observations).
    """
    if horizon_months < 1:
        raise InvalidInput("horizon_months must be at least 1")
    rows = session.scalars(
        select(Outcome)
        .where(
            Outcome.tenant_id == tenant_id,
            Outcome.application_date <= latest_start(as_of_date, horizon_months),
        )
        .order_by(Outcome.application_date, Outcome.loan_id)
    )
    return [
        row
        for row in rows
        if row.default_flag
        or row.observation_date >= add_months(row.application_date, horizon_months)
    ]


def maturing_outcomes(
    session: Session, tenant_id: str, as_of_date: dt.date, horizon_months: int = 12
) -> list[Outcome]:
    """Loans applied for by `as_of_date` whose `horizon_months` window had not closed by then."""
    rows = session.scalars(
        select(Outcome)
        .where(
            Outcome.tenant_id == tenant_id,
            Outcome.application_date > latest_start(as_of_date, horizon_months),
            Outcome.application_date <= as_of_date,
        )
        .order_by(Outcome.application_date, Outcome.loan_id)
    )
    return list(rows)


def add_months(day: dt.date, months: int) -> dt.date:
    """`day` moved by whole months, clamped to the month's end (Jan 31 + 1 = Feb 28/29)."""
    year, month0 = divmod(day.year * 12 + day.month - 1 + months, 12)
    last = calendar.monthrange(year, month0 + 1)[1]
    return dt.date(year, month0 + 1, min(day.day, last))


def latest_start(as_of: dt.date, months: int) -> dt.date:
    """The last day d with add_months(d, months) <= as_of."""
    start = add_months(as_of, -months)
    if as_of.day == calendar.monthrange(as_of.year, as_of.month)[1]:  # month end: whole month
        return start.replace(day=calendar.monthrange(start.year, start.month)[1])
    return start


def _values(fields: OutcomeFields) -> dict[str, Any]:
    """The row's columns, optional ones defaulted to None; InvalidInput for impossible reports."""
    unknown = fields.keys() - OutcomeFields.__annotations__.keys()
    if unknown:
        raise InvalidInput(f"unknown outcome fields: {', '.join(sorted(unknown))}")
    values: dict[str, Any] = _OPTIONAL | dict(fields)
    if values["observation_date"] < values["application_date"]:
        raise InvalidInput("observation_date is before application_date")
    if values["default_date"] is not None and not values["default_flag"]:
        raise InvalidInput("default_date given for a loan not in default")
    return values


def _update_if_newer(session: Session, tenant_id: str, values: dict[str, Any]) -> bool:
    """Apply `values` if the stored observation is strictly older; True when a row changed."""
    statement = (
        update(Outcome)
        .where(
            Outcome.tenant_id == tenant_id,
            Outcome.loan_id == values["loan_id"],
            Outcome.observation_date < values["observation_date"],
        )
        .values(**values, updated_at=utcnow())
    )
    result = cast(CursorResult[Any], session.execute(statement))
    return result.rowcount > 0


def _exists(session: Session, tenant_id: str, loan_id: str) -> bool:
    found = session.scalar(
        select(Outcome.id).where(Outcome.tenant_id == tenant_id, Outcome.loan_id == loan_id)
    )
    return found is not None
