"""File, read, list and answer disputes and credit-repair applications.

A bank (score scope) or the SME financing platform (platform scope) files on behalf of an
enterprise; a case names a store record of that enterprise, or a reason one of the filer's own
decisions cited. It is due 2 Chinese working days after receipt
(`platform_services.deadlines`). Operators (operator scope) see every case and move it
received -> checking -> corrected | rejected, each step with its answer, kept in the
append-only trail. A filer sees only its own cases; anyone else's is a 404.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.orm import Session

from catalog import store, uscc
from catalog.errors import InvalidInput, NotFound
from platform_services import deadlines, repair
from serving.db import calendar, repo
from serving.db import disputes as rows
from serving.db import webhooks as outbox
from serving.db.models import Dispute
from serving.disputes.records import StoreRecord, checked_table, entity_record
from serving.schemas import CitedReason, DisputeIn, DisputeStateIn

EVENT = "dispute.resolved"
CLOSED = ("corrected", "rejected")


class NotRepairable(InvalidInput):
    """A repair application for a penalty the repair rules do not allow now."""

    code = "not_repairable"


class ReasonNotCited(InvalidInput):
    """The decision named did not cite that reason, or concerns another entity."""

    code = "reason_not_cited"


RecordLookup = Callable[[str, str, str], StoreRecord]  # (table, record id, code) -> record


def store_lookup(store_path: Path) -> RecordLookup:
    """Records read on a short read-only connection to the store at `store_path`."""

    def lookup(table: str, record_id: str, code: str) -> StoreRecord:
        checked_table(table)
        with store.connect(store_path, read_only=True) as con:
            return entity_record(con, table, record_id, code)

    return lookup


def file_case(
    session: Session, lookup: RecordLookup, tenant_id: str, body: DisputeIn, now: dt.datetime
) -> Dispute:
    """Check and store a new case for `tenant_id`, received `now`. Caller commits."""
    code = uscc.canonical(body.uscc)
    if (body.record is None) == (body.reason is None):
        raise InvalidInput("name exactly one of record and reason")
    if body.kind == "repair" and (body.record is None or body.record.table != "penalties"):
        raise NotRepairable("a repair application names a penalties record")
    filing = rows.Filing(
        tenant_id=tenant_id,
        kind=body.kind,
        uscc=code,
        claim=body.claim,
        evidence_sha256=body.evidence_sha256,
        received_at=now,
        due_date=_due(session, now),
    )
    if body.record is not None:
        record = lookup(checked_table(body.record.table), body.record.record_id, code)
        if body.kind == "repair":
            _check_repairable(record, deadlines.local_date(now))
        filing = _with_record(filing, record)
    else:
        assert body.reason is not None
        filing = _with_reason(session, filing, body.reason)
    return rows.add_case(session, filing, f"tenant:{tenant_id}")


def _due(session: Session, now: dt.datetime) -> dt.date | None:
    """The deadline, or None while the calendar does not know its year (flagged, not guessed)."""
    try:
        return deadlines.due_date(now, calendar=calendar.calendar(session))
    except deadlines.CalendarUnknown:
        return None


def _check_repairable(record: StoreRecord, on: dt.date) -> None:
    assert record.penalty is not None  # a penalties record
    why = repair.ineligibility(record.penalty, on)
    if why is not None:
        raise NotRepairable(f"this penalty cannot be repaired now: {why}")


def _with_record(filing: rows.Filing, record: StoreRecord) -> rows.Filing:
    return rows.Filing(
        **vars(filing)
        | {
            "record_table": record.table,
            "record_id": record.record_id,
            "record_version": record.latest.version,
            "record_visible_on": record.visible_on,
            "department": record.department,
        }
    )


def _with_reason(session: Session, filing: rows.Filing, reason: CitedReason) -> rows.Filing:
    decision = repo.get_decision(session, filing.tenant_id, reason.decision_id)
    if decision is None:
        raise NotFound("no such decision")
    cited = {r.get(k) for r in json.loads(decision.reasons_json) for k in ("feature", "code")}
    if decision.uscc != filing.uscc or reason.feature not in cited:
        raise ReasonNotCited("that decision did not cite this reason for this entity")
    return rows.Filing(
        **vars(filing) | {"decision_id": decision.id, "reason_feature": reason.feature}
    )


def set_state(
    session: Session, case_id: str, body: DisputeStateIn, actor: str, now: dt.datetime
) -> Dispute:
    """An operator's step (409 `illegal_transition` when the state machine refuses it).

    Closing a case tells its filer (`dispute.resolved`); a correction of store data is
    imported and then reconciled (`serving.disputes.reconcile`), which re-scores and tells
    every bank that scored the entity.
    """
    case = rows.move(
        session, rows.get_case(session, case_id, None), body.state, (actor, body.answer, now)
    )
    if case.state in CLOSED:
        tell(session, case, case.tenant_id, [], now)
    return case


def tell(
    session: Session, case: Dispute, tenant_id: str, decision_ids: list[str], now: dt.datetime
) -> int:
    """A `dispute.resolved` event for `tenant_id` when it subscribes (1), else nothing (0).

    The filer learns its case id, state and answer; another bank only that the record behind
    its own decisions (listed) was corrected: never who disputed it or why.
    """
    if EVENT not in outbox.subscribed_types(session, tenant_id):
        return 0
    data: dict[str, object] = {
        "uscc": case.uscc,
        "record": _record_ref(case),
        "state": case.state,
        "resolved_at": now.isoformat(),
        "decision_ids": decision_ids,
    }
    if tenant_id == case.tenant_id:
        data |= {"dispute_id": case.id, "kind": case.kind, "answer": case.answer}
    return outbox.add_events(session, tenant_id, [(EVENT, data)], now)


def _record_ref(case: Dispute) -> dict[str, object] | None:
    if case.record_table is None:
        return None
    return {"table": case.record_table, "record_id": case.record_id}


def is_overdue(case: Dispute, now: dt.datetime) -> bool:
    """Still awaiting its answer (a repair application: its first review) past the end of its
    due day (China time)."""
    awaiting = case.state in rows.AWAITING[case.kind]
    return awaiting and case.due_date is not None and deadlines.is_overdue(case.due_date, now)


def answer(session: Session, case: Dispute, now: dt.datetime) -> dict[str, object]:
    """A case as the API and CLI show it, with its audit trail."""
    return {
        "dispute_id": case.id,
        "kind": case.kind,
        "uscc": case.uscc,
        "filed_by": case.tenant_id,
        "state": case.state,
        "record": None
        if case.record_table is None
        else {
            "table": case.record_table,
            "record_id": case.record_id,
            "version": case.record_version,
            "department": case.department,
        },
        "reason": None
        if case.decision_id is None
        else {"decision_id": case.decision_id, "feature": case.reason_feature},
        "claim": case.claim,
        "evidence_sha256": case.evidence_sha256,
        "received_at": case.received_at.isoformat(),
        "due_date": None if case.due_date is None else case.due_date.isoformat(),
        "due_date_unknown": case.due_date is None,
        "overdue": is_overdue(case, now),
        "answer": case.answer,
        "closed_at": None if case.closed_at is None else case.closed_at.isoformat(),
        "events": [
            {
                "at": e.at.isoformat(),
                "actor": e.actor,
                "from_state": e.from_state,
                "to_state": e.to_state,
                "note": e.note,
            }
            for e in rows.events_of(session, case.id)
        ],
    }
