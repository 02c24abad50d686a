"""`precredit disputes report`: open cases, overdue, time to answer, by kind and by department.

What the 2-working-day deadline asks differs by kind: a dispute is **answered** when it is
closed (corrected or rejected); a repair application when it has had its **first review** (it
left `received`). "answered", "on time", "overdue" and the median hours follow that rule.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

from platform_services import deadlines
from serving.db.disputes import AWAITING, OPEN_STATES
from serving.db.models import Dispute

NO_RECORD = "(cited reasons)"
KINDS = {"dispute": "异议 disputes", "repair": "信用修复 repair applications (first review)"}


@dataclass(frozen=True)
class Line:
    """One department's cases (or one kind's, or all of them)."""

    department: str
    cases: int
    open: int
    overdue: int
    deadline_unknown: int
    answered: int
    answered_on_time: int
    median_hours_to_answer: float | None


def answered_at(case: Dispute, reviews: Mapping[str, dt.datetime]) -> dt.datetime | None:
    """When the case met what its deadline asks: closed, or (repair) first reviewed."""
    if case.kind == "repair":
        return reviews.get(case.id, case.closed_at)
    return case.closed_at


def line(
    department: str,
    found: Sequence[Dispute],
    now: dt.datetime,
    reviews: Mapping[str, dt.datetime] | None = None,
) -> Line:
    """The figures of `found` (`reviews`: each case's first review, `first_reviews`)."""
    met = {c.id: at for c in found if (at := answered_at(c, reviews or {})) is not None}
    waiting = [c for c in found if c.state in AWAITING[c.kind]]
    done = [c for c in found if c.id in met]
    hours = [(met[c.id] - c.received_at).total_seconds() / 3600 for c in done]
    on_time = [c for c in done if c.due_date and deadlines.local_date(met[c.id]) <= c.due_date]
    return Line(
        department=department,
        cases=len(found),
        open=sum(c.state in OPEN_STATES for c in found),
        overdue=sum(
            c.due_date is not None and deadlines.is_overdue(c.due_date, now) for c in waiting
        ),
        deadline_unknown=sum(c.due_date is None for c in waiting),
        answered=len(done),
        answered_on_time=len(on_time),
        median_hours_to_answer=round(statistics.median(hours), 1) if hours else None,
    )


@dataclass(frozen=True)
class Report:
    """All cases together, then by kind, then by department."""

    as_of: str
    total: Line
    by_kind: list[Line]
    by_department: list[Line]

    def to_dict(self) -> dict[str, object]:
        """JSON-ready."""
        return asdict(self)


def report(
    found: Sequence[Dispute], now: dt.datetime, reviews: Mapping[str, dt.datetime] | None = None
) -> Report:
    """Every case together, by kind, then by department (the record's authority), largest first."""
    groups: dict[str, list[Dispute]] = {}
    for case in found:
        groups.setdefault(case.department or NO_RECORD, []).append(case)
    ranked = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    by_department = [line(name, cases, now, reviews) for name, cases in ranked]
    by_kind = [
        line(label, [c for c in found if c.kind == kind], now, reviews)
        for kind, label in KINDS.items()
    ]
    return Report(now.isoformat(), line("(all)", found, now, reviews), by_kind, by_department)
