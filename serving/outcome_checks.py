"""What makes a reported outcome impossible, and whether its links are the bank's own.

Every problem names the item's index and loan id, so a bank can fix its batch; a batch with
any impossible item is refused whole (nothing half-stored, nothing acknowledged then lost).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import InstrumentedAttribute, Session

from catalog.errors import InvalidInput, NotFound
from serving.db.models import Decision, FinancingAnswer, Offer
from serving.schemas import OutcomeIn

EARLIEST = dt.date(1990, 1, 1)  # before the unified credit code and these platforms existed
MONTH_DAYS = 31  # days past due grow by at most one month's days from month to month
SHOWN = 20  # problems listed in one refusal
NAMEABLE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}")  # loan ids echoed back as sent
CHINA = dt.timezone(dt.timedelta(hours=8), "CST")


def today() -> dt.date:
    """Today in China (banks date their reports in China Standard Time, ahead of UTC)."""
    return dt.datetime.now(CHINA).date()


def loan(loan_id: str) -> str:
    """How a refusal names a loan: its id when plain (letters, digits, . _ : / -), else only
    its position (a refusal never reflects unusual input back)."""
    return (
        f"loan {loan_id}" if NAMEABLE.fullmatch(loan_id) else "loan id withheld: unusual characters"
    )


def problems(item: OutcomeIn, today: dt.date) -> list[str]:
    """Why `item` cannot have happened (empty: possible)."""
    found = [
        f"{name} {day.isoformat()} is before {EARLIEST.isoformat()}"
        if day < EARLIEST
        else f"{name} {day.isoformat()} is after today"
        for name, day in _dates(item)
        if day < EARLIEST or day > today
    ]
    if item.drawn_amount_cny > item.granted_amount_cny:
        found.append("drawn_amount_cny exceeds granted_amount_cny")
    if item.default_flag and item.default_date is None:
        found.append("a default needs its default_date")
    if item.default_date is not None:
        found += _default_problems(item, item.default_date)
    if item.observation_date < item.application_date:
        found.append("observation_date is before application_date")
    return found + _dpd_problems(item)


def _dates(item: OutcomeIn) -> list[tuple[str, dt.date]]:
    days = [
        ("application_date", item.application_date),
        ("observation_date", item.observation_date),
    ]
    return days + ([("default_date", item.default_date)] if item.default_date else [])


def _default_problems(item: OutcomeIn, default_date: dt.date) -> list[str]:
    found = []
    if not item.default_flag:
        found.append("default_date given for a loan not in default")
    if default_date < item.application_date:
        found.append("default_date is before application_date")
    if default_date > item.observation_date:
        found.append("default_date is after observation_date")
    return found


def _dpd_problems(item: OutcomeIn) -> list[str]:
    history = item.dpd_history or []
    found = [
        f"dpd_history[{k}] rises by more than {MONTH_DAYS} days over dpd_history[{k - 1}]"
        for k in range(1, len(history))
        if history[k] > history[k - 1] + MONTH_DAYS
    ]
    if history and history[0] > MONTH_DAYS:
        found.append(f"dpd_history[0] exceeds the {MONTH_DAYS} days of its first month")
    if item.max_dpd is not None and history and max(history) > item.max_dpd:
        found.append("max_dpd is below the largest value of dpd_history")
    return found


def check(items: Sequence[OutcomeIn], today: dt.date) -> None:
    """InvalidInput naming every impossible item (index and loan id) and why."""
    refused = [
        f"item {i} ({loan(item.loan_id)}): {'; '.join(found)}"
        for i, item in enumerate(items)
        if (found := problems(item, today))
    ]
    if refused:
        more = f" (and {len(refused) - SHOWN} more)" if len(refused) > SHOWN else ""
        raise InvalidInput(
            f"{len(refused)} impossible outcome(s) refused, nothing stored: "
            + " | ".join(refused[:SHOWN])
            + more
        )


def check_links(session: Session, tenant: str, items: Sequence[OutcomeIn]) -> None:
    """NotFound (404) unless every linked decision, offer and financing request is the bank's."""
    for i, item in enumerate(items):
        for what, found in (
            ("decision", _owns(session, Decision.id, Decision.tenant_id, item.decision_id, tenant)),
            ("offer", _owns(session, Offer.id, Offer.tenant_id, item.offer_id, tenant)),
            (
                "financing request",
                _owns(
                    session,
                    FinancingAnswer.request_id,
                    FinancingAnswer.tenant_id,
                    item.financing_request_id,
                    tenant,
                ),
            ),
        ):
            if not found:
                raise NotFound(f"item {i} ({loan(item.loan_id)}): no such {what} for this bank")


def _owns(
    session: Session,
    id_column: InstrumentedAttribute[str],
    tenant_column: InstrumentedAttribute[str],
    value: str | None,
    tenant: str,
) -> bool:
    if value is None:
        return True
    query = select(id_column).where(id_column == value, tenant_column == tenant).limit(1)
    return session.scalar(query) is not None
