"""A correction closes the dispute, re-scores the entity's offers and tells the banks.

On real SQLite and PostgreSQL with the trained platform model of the API tests, on a copy of
its store: a court listing declines an entity (its offer is revoked), the bank disputes the
listing (due in 2 working days, the National Day week in between), the court retracts it, and
`reconcile` closes the case, re-issues the offer and writes `dispute.resolved` to the outbox of
every bank that scored the entity since the listing was visible, and of no other.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from api_fixtures import ApiStacks
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from catalog import store
from catalog.errors import InvalidInput
from features import snapshot
from serving.db import calendar, repo
from serving.db import disputes as rows
from serving.db import webhooks as outbox
from serving.db.models import Offer, OutboxEvent
from serving.decision.model_store import ModelHolder
from serving.disputes import cases
from serving.disputes.reconcile import reconcile
from serving.disputes.records import StoreRecord, entity_record
from serving.offer.run import OfferOptions, OfferSources, rescore, run_offers
from serving.schemas import DisputeIn, DisputeStateIn

T0 = dt.datetime(2026, 9, 28, 1, 0, tzinfo=dt.UTC)  # Monday, 09:00 in China
FILED = dt.datetime(2026, 9, 29, 2, 0, tzinfo=dt.UTC)  # Tuesday before the National Day week
RECORD = "CD-DISPUTE-1"
EVIDENCE = hashlib.sha256(b"court notice of withdrawal").hexdigest()


@pytest.fixture(scope="module")
def holder(api_stacks: ApiStacks, tmp_path_factory: pytest.TempPathFactory) -> ModelHolder:
    """Models in service, with their own local cache."""
    home = api_stacks.home
    cache = tmp_path_factory.mktemp("dispute-models")
    return ModelHolder(f"sqlite:///{home / 'mlflow.db'}", home / "mlartifacts", cache)


@pytest.fixture
def platform(api_stacks: ApiStacks, tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A writable copy of the home's store (snapshot included)."""
    path = tmp_path / "platform.duckdb"
    shutil.copy(api_stacks.home / "platform.duckdb", path)
    with store.connect(path) as con:
        yield con


@pytest.fixture
def banks(sessions: sessionmaker[Session]) -> list[str]:
    """Three banks, each with a webhook endpoint for every event type."""
    names = ["bank_a", "bank_b", "bank_c"]
    with sessions.begin() as session:
        for name in names:
            repo.create_tenant(session, name, name.replace("_", " ").title())
            options = outbox.EndpointOptions(now=T0 - dt.timedelta(days=400), allow_private=True)
            outbox.add_endpoint(session, name, "http://127.0.0.1:9/hook", options=options)
    return names


def listing(con: duckdb.DuckDBPyConnection, code: str, version: int, retracted: bool) -> None:
    """Version `version` of a dishonest-debtor listing of `code`, ingested before the snapshot."""
    con.execute(
        "INSERT INTO court_debtors (record_id, version, retracted, uscc, court, case_no, "
        "filing_date, publish_date, obligation_cny, performance, removed_date, ingest_date) "
        "VALUES (?, ?, ?, ?, '汕尾市城区人民法院', '(2025)粤1502执998号', DATE '2025-11-20', "
        "DATE '2025-12-20', 250000, 'none', NULL, ?)",
        [RECORD, version, retracted, code, dt.date(2025, 12, 28 + version)],
    )


def decision(session: Session, tenant: str, code: str, at: dt.datetime) -> str:
    """A decision of `tenant` on `code` recorded at `at`."""
    return repo.record_decision(
        session,
        created_at=at,
        tenant_id=tenant,
        uscc=code,
        product="sme_credit",
        requested_amount_cny=None,
        decision="decline",
        limit_cny=0.0,
        pd=0.2,
        grade="G09",
        binding="gate:court_debtor",
        model_name="precredit-platform",
        model_version="1",
        model_sha256="a" * 64,
        policy_version="sme_credit@1",
        policy_fingerprint="b" * 64,
        registry_fingerprint="c" * 64,
        snapshot_as_of=dt.date(2025, 12, 31),
        input_hash="d" * 64,
        features_json="{}",
        reasons_json="[]",
        response_json="{}",
    )


def events(sessions: sessionmaker[Session], tenant: str, kind: str) -> list[dict[str, object]]:
    """The tenant's outbox event data of one type."""
    with sessions() as session:
        query = select(OutboxEvent.payload_json).where(
            OutboxEvent.tenant_id == tenant, OutboxEvent.event_type == kind
        )
        return [json.loads(body)["data"] for body in session.scalars(query)]


def active_offers(sessions: sessionmaker[Session], code: str) -> list[Offer]:
    """bank_a's active offers of `code`."""
    with sessions() as session:
        query = select(Offer).where(
            Offer.tenant_id == "bank_a", Offer.uscc == code, Offer.status == "active"
        )
        return list(session.scalars(query))


def lookup_in(con: duckdb.DuckDBPyConnection) -> cases.RecordLookup:
    """Records read on the test's own connection to the store copy."""
    return lambda table, record_id, code: entity_record(con, table, record_id, code)


def test_a_retraction_closes_the_dispute_reissues_the_offer_and_tells_the_banks(
    sessions: sessionmaker[Session],
    holder: ModelHolder,
    platform: duckdb.DuckDBPyConnection,
    banks: list[str],
) -> None:
    sources = OfferSources(sessions, holder, platform)
    run_offers(sources, "bank_a", OfferOptions(now=T0))
    with sessions() as session:
        code = session.scalars(
            select(Offer.uscc).where(Offer.decision == "approve").order_by(Offer.uscc)
        ).first()
    assert code is not None
    listing(platform, code, 1, retracted=False)
    snapshot.refresh(platform, [code])
    revoked = rescore(sources, "bank_a", [code], OfferOptions(now=T0 + dt.timedelta(hours=1)))
    assert revoked.counts.revoked == 1  # the listing declined the entity
    with sessions.begin() as session:
        b_decision = decision(session, "bank_b", code, T0 + dt.timedelta(hours=2))
        decision(session, "bank_c", code, dt.datetime(2025, 12, 1, tzinfo=dt.UTC))  # before it
    with sessions.begin() as session:
        body = DisputeIn(
            uscc=code,
            record={"table": "court_debtors", "record_id": RECORD},  # type: ignore[arg-type]
            claim="判决已履行完毕，法院已撤销失信名单 / the judgment was performed",
            evidence_sha256=EVIDENCE,
        )
        case = cases.file_case(session, lookup_in(platform), "bank_a", body, FILED)
        case_id = case.id
        assert (case.due_date, case.record_version) == (dt.date(2026, 10, 8), 1)
    untouched = reconcile(sessions, platform, holder, FILED + dt.timedelta(hours=1))
    assert untouched.closed == []
    listing(platform, code, 2, retracted=True)  # the court withdraws the listing
    done = reconcile(sessions, platform, holder, FILED + dt.timedelta(hours=2))
    assert done.closed == [case_id]
    assert done.awaiting_snapshot == []
    assert done.rescored["bank_a"]["created"] == 1
    assert [o.decision for o in active_offers(sessions, code)] == ["approve"]
    with sessions() as session:
        closed = rows.get_case(session, case_id, "bank_a")
        trail = [(e.actor, e.to_state) for e in rows.events_of(session, case_id)]
        assert closed.state == "corrected"
        assert "retracted" in (closed.answer or "")
    assert trail == [("tenant:bank_a", "received"), ("system:reconcile", "corrected")]
    [to_filer] = events(sessions, "bank_a", "dispute.resolved")
    assert (to_filer["dispute_id"], to_filer["state"], to_filer["uscc"]) == (
        case_id,
        "corrected",
        code,
    )
    [to_other] = events(sessions, "bank_b", "dispute.resolved")
    assert to_other["decision_ids"] == [b_decision]
    assert {"dispute_id", "answer", "kind"}.isdisjoint(to_other)  # nothing of bank_a's case
    assert events(sessions, "bank_c", "dispute.resolved") == []
    again = reconcile(sessions, platform, holder, FILED + dt.timedelta(hours=3))
    assert (again.closed, again.events) == ([], 0)


def test_a_case_waits_for_its_deadline_until_the_operator_enters_the_year(
    sessions: sessionmaker[Session],
    holder: ModelHolder,
    platform: duckdb.DuckDBPyConnection,
    banks: list[str],
) -> None:
    code = str(platform.execute("SELECT uscc FROM entities ORDER BY uscc LIMIT 1").fetchone()[0])
    listing(platform, code, 1, retracted=False)
    with sessions.begin() as session:
        body = DisputeIn(
            uscc=code,
            record={"table": "court_debtors", "record_id": RECORD},  # type: ignore[arg-type]
            claim="not ours",
            evidence_sha256=EVIDENCE,
        )
        late = dt.datetime(2026, 12, 30, 2, 0, tzinfo=dt.UTC)  # due in 2027: unknown yet
        case = cases.file_case(session, lookup_in(platform), "bank_a", body, late)
        shown = cases.answer(session, case, late)
    assert (shown["due_date"], shown["due_date_unknown"], shown["overdue"]) == (None, True, False)
    result = reconcile(sessions, platform, holder, late)
    assert (result.deadlines_set, result.closed) == (0, [])
    with sessions.begin() as session:  # the operator enters 2027: Friday 01-01 a holiday
        new_year = calendar.Day(dt.date(2027, 1, 1), "holiday", "元旦")
        calendar.record_year(session, 2027, [new_year], "国办发明电〔2026〕7号", "cli")
    result = reconcile(sessions, platform, holder, late)
    assert (result.deadlines_set, result.closed) == (1, [])
    with sessions.begin() as session:
        shown = cases.answer(session, rows.get_case(session, case.id, None), late)
        # received Wednesday 12-30: Thursday 12-31 the 1st working day, Monday 01-04 the 2nd
        assert (shown["due_date"], shown["due_date_unknown"]) == ("2027-01-04", False)
        body = body.model_copy(update={"claim": "again"})
        later = late + dt.timedelta(days=1)  # Thursday 12-31: due Tuesday 01-05, set at filing
        again = cases.file_case(session, lookup_in(platform), "bank_a", body, later)
        assert again.due_date == dt.date(2027, 1, 5)
    assert reconcile(sessions, platform, holder, late).deadlines_set == 0


def test_a_repair_needs_a_penalty_record(
    sessions: sessionmaker[Session], platform: duckdb.DuckDBPyConnection, banks: list[str]
) -> None:
    code = str(platform.execute("SELECT uscc FROM entities ORDER BY uscc LIMIT 1").fetchone()[0])
    listing(platform, code, 1, retracted=False)
    body = DisputeIn(
        uscc=code,
        kind="repair",
        record={"table": "court_debtors", "record_id": RECORD},  # type: ignore[arg-type]
        claim="please repair",
        evidence_sha256=EVIDENCE,
    )
    with sessions() as session, pytest.raises(InvalidInput, match="penalties") as raised:
        cases.file_case(session, lookup_in(platform), "bank_a", body, FILED)
    assert raised.value.code == "not_repairable"


def test_store_records_name_their_versions_and_department(
    platform: duckdb.DuckDBPyConnection,
) -> None:
    code = str(platform.execute("SELECT uscc FROM entities ORDER BY uscc LIMIT 1").fetchone()[0])
    listing(platform, code, 1, retracted=False)
    listing(platform, code, 2, retracted=True)
    record: StoreRecord = entity_record(platform, "court_debtors", RECORD, code)
    assert [v.version for v in record.versions] == [1, 2]
    assert (record.latest.retracted, record.visible_on) == (True, dt.date(2025, 12, 29))
    assert record.department == "汕尾市城区人民法院"


def test_an_operators_answer_tells_only_the_filer(
    sessions: sessionmaker[Session], platform: duckdb.DuckDBPyConnection, banks: list[str]
) -> None:
    code = str(platform.execute("SELECT uscc FROM entities ORDER BY uscc LIMIT 1").fetchone()[0])
    listing(platform, code, 1, retracted=False)
    with sessions.begin() as session:
        decision(session, "bank_b", code, FILED)
        body = DisputeIn(
            uscc=code,
            record={"table": "court_debtors", "record_id": RECORD},  # type: ignore[arg-type]
            claim="not ours",
            evidence_sha256=EVIDENCE,
        )
        case_id = cases.file_case(session, lookup_in(platform), "bank_a", body, FILED).id
    steps = [("checking", "核查中 / checking"), ("rejected", "记录无误 / the record is correct")]
    for state, answer in steps:
        with sessions.begin() as session:
            change = DisputeStateIn(state=state, answer=answer)  # type: ignore[arg-type]
            cases.set_state(session, case_id, change, "key:operator", FILED)
    [told] = events(sessions, "bank_a", "dispute.resolved")
    assert (told["dispute_id"], told["state"], told["answer"]) == (
        case_id,
        "rejected",
        "记录无误 / the record is correct",
    )
    assert events(sessions, "bank_b", "dispute.resolved") == []


def test_two_operators_cannot_both_move_one_case(
    sessions: sessionmaker[Session], platform: duckdb.DuckDBPyConnection, banks: list[str]
) -> None:
    code = str(platform.execute("SELECT uscc FROM entities ORDER BY uscc LIMIT 1").fetchone()[0])
    listing(platform, code, 1, retracted=False)
    body = DisputeIn(
        uscc=code,
        record={"table": "court_debtors", "record_id": RECORD},  # type: ignore[arg-type]
        claim="not ours",
        evidence_sha256=EVIDENCE,
    )
    with sessions.begin() as session:
        case_id = cases.file_case(session, lookup_in(platform), "bank_a", body, FILED).id
    with sessions() as session:  # the second operator read the case before the first moved it
        stale = rows.get_case(session, case_id, None)
        session.expunge(stale)
    with sessions.begin() as session:
        moved_at = FILED + dt.timedelta(minutes=5)
        rows.move(
            session, rows.get_case(session, case_id, None), "checking", ("key:a", "x", moved_at)
        )
    with sessions() as session, pytest.raises(rows.IllegalTransition, match="meanwhile"):
        rows.move(session, stale, "checking", ("key:b", "y", moved_at))
    with sessions() as session:
        trail = [(e.actor, e.to_state) for e in rows.events_of(session, case_id)]
    assert trail == [("tenant:bank_a", "received"), ("key:a", "checking")]
