"""`precredit disputes report`: open cases, overdue, time to answer, by department."""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from platform_services import deadlines
from serving.db.disputes import OPEN_STATES
from serving.db.models import Dispute

NO_RECORD = "(cited reasons)"


@dataclass(frozen=True)
class Line:
    """One department's cases (or all of them)."""

    department: str
    cases: int
    open: int
    overdue: int
    deadline_unknown: int
    answered: int
    answered_on_time: int
    median_hours_to_answer: float | None


def line(department: str, found: Sequence[Dispute], now: dt.datetime) -> Line:
    """The figures of `found`."""
    still_open = [c for c in found if c.state in OPEN_STATES]
    closed = [c for c in found if c.closed_at is not None]
    hours = [(c.closed_at - c.received_at).total_seconds() / 3600 for c in closed if c.closed_at]
    on_time = [
        c
        for c in closed
        if c.closed_at and c.due_date and deadlines.local_date(c.closed_at) <= c.due_date
    ]
    return Line(
        department=department,
        cases=len(found),
        open=len(still_open),
        overdue=sum(
            c.due_date is not None and deadlines.is_overdue(c.due_date, now) for c in still_open
        ),
        deadline_unknown=sum(c.due_date is None for c in still_open),
        answered=len(closed),
        answered_on_time=len(on_time),
        median_hours_to_answer=round(statistics.median(hours), 1) if hours else None,
    )


@dataclass(frozen=True)
class Report:
    """All cases together, then by department."""

    as_of: str
    total: Line
    by_department: list[Line]

    def to_dict(self) -> dict[str, object]:
        """JSON-ready."""
        return asdict(self)


def report(found: Sequence[Dispute], now: dt.datetime) -> Report:
    """Every case together, then by department (the record's authority), largest first."""
    groups: dict[str, list[Dispute]] = {}
    for case in found:
        groups.setdefault(case.department or NO_RECORD, []).append(case)
    ranked = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    by_department = [line(name, cases, now) for name, cases in ranked]
    return Report(now.isoformat(), line("(all)", found, now), by_department)
