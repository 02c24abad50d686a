"""Credit repair of administrative penalties: when a penalty may be repaired (DOMAIN.md §4).

Under the 信用修复管理办法 (NDRC Decree No. 36, in force 2026-04-01; similar periods since
2019) a published penalty may be repaired once its minimum publicity period has passed: 3
months for a general penalty, 1 year for a serious one. A minor penalty is not published, so
there is nothing to repair; a penalty already repaired, or past its maximum publicity period
(`publicity_end`), is no longer published either.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass

LEGAL_BASIS = "信用修复管理办法 (国家发展改革委令第36号, 2026-04-01) / NDRC Decree No. 36"
MIN_MONTHS = {"general": 3, "serious": 12}


@dataclass(frozen=True)
class PenaltyFacts:
    """What the repair rules read of one penalty record (its latest version)."""

    severity: str
    decision_date: dt.date
    publicity_end: dt.date
    repair_date: dt.date | None
    retracted: bool = False


def add_months(day: dt.date, months: int) -> dt.date:
    """`day` plus whole months, clamped to the month's last day (2025-11-30 + 3 = 2026-02-28)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def earliest_repair_date(facts: PenaltyFacts) -> dt.date | None:
    """The first day a repair may be applied for; None: the penalty is never repairable."""
    months = MIN_MONTHS.get(facts.severity)
    return None if months is None else add_months(facts.decision_date, months)


def ineligibility(facts: PenaltyFacts, on: dt.date) -> str | None:
    """Why the penalty cannot be repaired on `on` (None: it can), in words."""
    earliest = earliest_repair_date(facts)
    if facts.retracted:
        return "the penalty was retracted"
    if earliest is None:
        return f"a {facts.severity} penalty is not published, so there is nothing to repair"
    if facts.repair_date is not None and facts.repair_date <= on:
        return f"the penalty was already repaired on {facts.repair_date.isoformat()}"
    if on >= facts.publicity_end:
        return f"the penalty's publicity ended on {facts.publicity_end.isoformat()}"
    if on < earliest:
        return f"a {facts.severity} penalty may be repaired from {earliest.isoformat()}"
    return None
