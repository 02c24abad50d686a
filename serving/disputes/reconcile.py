"""Close cases whose record was corrected or retracted, re-score the entity, tell the banks.

Run after importing corrections (`precredit disputes reconcile`, e.g. right after `precredit
platform import`): the import stays a pure load of the store, and this step is testable on
its own. For every open case naming a store record that now has a newer version (a
correction, or a retraction: `retracted = true`):

1. the entity's snapshot row is recomputed (`features.snapshot.refresh`, at the snapshot's
   date: a correction ingested after that date counts from the next snapshot build, and the
   case is reported as `awaiting_snapshot`);
2. every bank with offers re-scores it (`serving.offer.run.rescore`): an offer that no longer
   holds is revoked, a changed one superseded, a newly approvable entity offered;
3. the case is closed as `corrected` with its answer, in the trail as `system:reconcile`;
4. every bank that scored the entity since the record was visible (a decision or an offer on
   or after its first ingest date, China time) and the filer get `dispute.resolved`.

It also sets the deadlines the working-day calendar could not give at filing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from catalog import store
from features import snapshot
from platform_services import deadlines
from serving.db import calendar
from serving.db import disputes as rows
from serving.db.models import Decision, Dispute, Offer
from serving.db.offers import tenants_with_offers
from serving.decision.model_store import ModelHolder
from serving.disputes.cases import tell
from serving.disputes.records import StoreRecord, read_record
from serving.offer.run import OfferOptions, OfferSources, rescore

ACTOR = "system:reconcile"


@dataclass
class Reconciled:
    """What a reconciliation did."""

    closed: list[str] = field(default_factory=list)  # case ids
    rescored: dict[str, dict[str, int]] = field(default_factory=dict)  # tenant -> counts
    events: int = 0
    awaiting_snapshot: list[str] = field(default_factory=list)  # case ids
    deadlines_set: int = 0


def reconcile(
    sessions: sessionmaker[Session],
    con: store.Connection,
    models: ModelHolder,
    now: dt.datetime,
) -> Reconciled:
    """Reconcile every open case against the store (`con` writable: snapshot rows)."""
    result = Reconciled()
    with sessions.begin() as session:
        result.deadlines_set = _set_deadlines(session)
        corrected = _corrected(session, con)
    if not corrected:
        return result
    as_of = snapshot.snapshot_date(con)
    codes = sorted({case.uscc for case, _ in corrected})
    snapshot.refresh(con, codes)
    result.rescored = _rescore(sessions, con, models, codes, now)
    for case, record in corrected:
        if record is not None and record.latest.ingest_date > as_of:
            result.awaiting_snapshot.append(case.id)
        with sessions.begin() as session:
            result.events += _close(session, case.id, record, now)
        result.closed.append(case.id)
    return result


def _set_deadlines(session: Session) -> int:
    set_now = 0
    known = calendar.calendar(session)  # the package and the operator's entered years
    for case in rows.open_cases(session):
        if case.due_date is None:
            try:
                due = deadlines.due_date(case.received_at, calendar=known)
                rows.set_due_date(session, case, due)
            except deadlines.CalendarUnknown:
                continue
            set_now += 1
    return set_now


def _corrected(session: Session, con: store.Connection) -> list[tuple[Dispute, StoreRecord | None]]:
    """Open record cases whose record has a version newer than the one disputed (or is gone)."""
    found = []
    for case in rows.open_cases(session):
        if case.record_table is None or case.record_id is None:
            continue
        record = read_record(con, case.record_table, case.record_id)
        if record is None or record.latest.version > (case.record_version or 0):
            session.expunge(case)
            found.append((case, record))
    return found


def _rescore(
    sessions: sessionmaker[Session],
    con: store.Connection,
    models: ModelHolder,
    codes: list[str],
    now: dt.datetime,
) -> dict[str, dict[str, int]]:
    with sessions() as session:
        tenants = tenants_with_offers(session)
    counts = {}
    for tenant in tenants:
        run = rescore(OfferSources(sessions, models, con), tenant, codes, OfferOptions(now=now))
        counts[tenant] = {k: v for k, v in vars(run.counts).items() if isinstance(v, int)}
    return counts


def _close(session: Session, case_id: str, record: StoreRecord | None, now: dt.datetime) -> int:
    case = rows.get_case(session, case_id, None)
    rows.move(
        session, case, "corrected", (ACTOR, _answer(record), now), allowed_from=rows.OPEN_STATES
    )
    visible = case.record_visible_on or deadlines.local_date(case.received_at)
    since = dt.datetime.combine(visible, dt.time(0), deadlines.CHINA)
    scored = _scored_since(session, case.uscc, since)
    scored.setdefault(case.tenant_id, [])
    return sum(tell(session, case, tenant, ids, now) for tenant, ids in sorted(scored.items()))


def _scored_since(session: Session, code: str, since: dt.datetime) -> dict[str, list[str]]:
    """Banks that scored `code` since `since`: their decision ids (offers add the bank only)."""
    decisions = session.execute(
        select(Decision.tenant_id, Decision.id)
        .where(Decision.uscc == code, Decision.created_at >= since)
        .order_by(Decision.tenant_id, Decision.created_at)
    ).all()
    scored: dict[str, list[str]] = {}
    for tenant, decision_id in decisions:
        scored.setdefault(tenant, []).append(decision_id)
    offered = session.scalars(
        select(Offer.tenant_id).where(Offer.uscc == code, Offer.created_at >= since).distinct()
    )
    for tenant in offered:
        scored.setdefault(tenant, [])
    return scored


def _answer(record: StoreRecord | None) -> str:
    if record is None:
        return "记录已从平台删除 / the record was removed from the platform"
    latest = record.latest
    if latest.retracted:
        return f"记录已撤销（第{latest.version}版）/ the record was retracted (version {latest.version})"
    return (
        f"记录已更正（第{latest.version}版）/ the record was corrected (version {latest.version})"
    )
