"""Disputes and repair applications: insert, read, list, and move a case between states.

A state change is one conditional UPDATE (`WHERE state = <the state it leaves>`) and one
appended event, in the caller's transaction: two operators moving one case at once cannot both
succeed (the second gets 409). Another tenant's case is answered like a missing one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from catalog.errors import Conflict, NotFound
from serving.db.models import Dispute, DisputeEvent, new_id

OPEN_STATES = ("received", "checking")
# The 2-working-day deadline: a dispute must be answered (closed); a repair application must
# have its first review (it leaves `received`), the rest of the repair taking its own course.
AWAITING = {"dispute": OPEN_STATES, "repair": ("received",)}
TRANSITIONS = {
    "received": ("checking",),
    "checking": ("corrected", "rejected"),
    "corrected": (),
    "rejected": (),
}
LIST_LIMIT = 500


class IllegalTransition(Conflict):
    """The case is not in a state that may move to the one asked for."""

    code = "illegal_transition"


@dataclass(frozen=True)
class Filing:
    """A new case as checked by `serving.disputes.cases` (the record or decision it names)."""

    tenant_id: str
    kind: str
    uscc: str
    claim: str
    evidence_sha256: str
    received_at: dt.datetime
    due_date: dt.date | None
    record_table: str | None = None
    record_id: str | None = None
    record_version: int | None = None
    record_visible_on: dt.date | None = None
    department: str | None = None
    decision_id: str | None = None
    reason_feature: str | None = None


def add_case(session: Session, filing: Filing, actor: str) -> Dispute:
    """Store a new case in `received` and its first event. Caller commits."""
    case = Dispute(id=new_id(), state="received", **vars(filing))
    session.add(case)
    session.flush()
    _event(session, case.id, (filing.received_at, actor), (None, "received"), None)
    return case


def get_case(session: Session, case_id: str, tenant_id: str | None) -> Dispute:
    """The case (`tenant_id` None: any tenant's, for operators); 404 otherwise."""
    case = session.get(Dispute, case_id)
    if case is None or (tenant_id is not None and case.tenant_id != tenant_id):
        raise NotFound("no such dispute")
    return case


def list_cases(
    session: Session, tenant_id: str | None, states: Sequence[str] | None = None
) -> list[Dispute]:
    """Cases, newest first (`tenant_id` None: every tenant's); at most `LIST_LIMIT`."""
    query = select(Dispute).order_by(Dispute.received_at.desc(), Dispute.id).limit(LIST_LIMIT)
    if tenant_id is not None:
        query = query.where(Dispute.tenant_id == tenant_id)
    if states is not None:
        query = query.where(Dispute.state.in_(states))
    return list(session.scalars(query))


def overdue_cases(session: Session, tenant_id: str | None, today: dt.date) -> list[Dispute]:
    """Cases still awaiting what their deadline asks (`AWAITING`) whose due day is before
    `today` (China time), oldest due first."""
    awaiting = or_(
        *(
            and_(Dispute.kind == kind, Dispute.state.in_(states))
            for kind, states in AWAITING.items()
        )
    )
    query = select(Dispute).where(awaiting, Dispute.due_date < today)
    if tenant_id is not None:
        query = query.where(Dispute.tenant_id == tenant_id)
    return list(session.scalars(query.order_by(Dispute.due_date, Dispute.received_at)))


def all_cases(session: Session) -> list[Dispute]:
    """Every case, oldest first (for the report)."""
    return list(session.scalars(select(Dispute).order_by(Dispute.received_at, Dispute.id)))


def first_reviews(session: Session) -> dict[str, dt.datetime]:
    """When each case first left `received` (its first review), by case id."""
    query = (
        select(DisputeEvent.dispute_id, func.min(DisputeEvent.at))
        .where(DisputeEvent.from_state == "received")
        .group_by(DisputeEvent.dispute_id)
    )
    return dict(session.execute(query).tuples().all())


def open_cases(session: Session) -> list[Dispute]:
    """Every case still open (received or checking), oldest first."""
    query = select(Dispute).where(Dispute.state.in_(OPEN_STATES))
    return list(session.scalars(query.order_by(Dispute.received_at, Dispute.id)))


def events_of(session: Session, case_id: str) -> list[DisputeEvent]:
    """A case's audit trail, oldest first."""
    query = select(DisputeEvent).where(DisputeEvent.dispute_id == case_id)
    return list(session.scalars(query.order_by(DisputeEvent.at, DisputeEvent.id)))


def move(
    session: Session,
    case: Dispute,
    to_state: str,
    change: tuple[str, str | None, dt.datetime],
    allowed_from: Sequence[str] | None = None,
) -> Dispute:
    """Move `case` to `to_state` (`change`: actor, answer, when); 409 when not allowed now.

    `allowed_from` widens the legal starting states (reconciliation closes a case from either
    open state); by default only `TRANSITIONS` apply.
    """
    actor, answer, at = change
    from_state = case.state
    starts = allowed_from or [s for s, targets in TRANSITIONS.items() if to_state in targets]
    if from_state not in starts:
        raise IllegalTransition(f"a {from_state} case cannot become {to_state}")
    closing = to_state in ("corrected", "rejected")
    values: dict[str, object] = {"state": to_state}
    if answer is not None:
        values["answer"] = answer
    if closing:
        values["closed_at"] = at
    moved = session.execute(
        update(Dispute).where(Dispute.id == case.id, Dispute.state == from_state).values(**values)
    )
    if not getattr(moved, "rowcount", 0):
        raise IllegalTransition("the case changed meanwhile; read it again")
    _event(session, case.id, (at, actor), (from_state, to_state), answer)
    session.refresh(case)
    return case


def set_due_date(session: Session, case: Dispute, due: dt.date) -> None:
    """Fill in a deadline the calendar could not give at filing. Caller commits."""
    session.execute(update(Dispute).where(Dispute.id == case.id).values(due_date=due))


def _event(
    session: Session,
    case_id: str,
    when_who: tuple[dt.datetime, str],
    states: tuple[str | None, str],
    note: str | None,
) -> None:
    (at, actor), (from_state, to_state) = when_who, states
    session.add(
        DisputeEvent(
            id=new_id(),
            dispute_id=case_id,
            at=at,
            actor=actor,
            from_state=from_state,
            to_state=to_state,
            note=note,
        )
    )
    session.flush()
