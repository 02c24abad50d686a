"""Batch offers on real SQLite and PostgreSQL with the trained platform model of the API tests.

The home (`api_stacks.home`: tiny store, snapshot, promoted platform model) is shared with the
API tests and never written to: a test that changes platform data works on a copy of the store.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from api_fixtures import ApiStacks
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from catalog import store, uscc
from catalog.errors import NotFound
from features import snapshot
from models.decision import input_hash, inputs_digests
from precredit.cli import app
from precredit.settings import get_settings
from serving.db import make_engine, offer_state, repo, session_factory, sqlite_url
from serving.db import webhooks as outbox
from serving.db.bulk import insert_rows
from serving.db.models import Offer, OfferState, OutboxEvent
from serving.db.offer_state import Scorer
from serving.db.offers import OFFERS
from serving.decision.model_store import ModelHolder
from serving.offer.export import COLUMNS, EXPORT_SCHEMA
from serving.offer.run import (
    NOT_IN_SNAPSHOT,
    OfferOptions,
    OfferRun,
    OfferSources,
    rescore,
    run_offers,
)

T0 = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)
DOCS = Path(__file__).resolve().parents[2] / "docs" / "offers.md"


@pytest.fixture(scope="module")
def home(api_stacks: ApiStacks) -> Path:
    """The trained home of the API tests (read only)."""
    return api_stacks.home


@pytest.fixture(scope="module")
def holder(home: Path, tmp_path_factory: pytest.TempPathFactory) -> ModelHolder:
    """Models in service for these tests, with their own local cache."""
    cache = tmp_path_factory.mktemp("offer-models")
    return ModelHolder(f"sqlite:///{home / 'mlflow.db'}", home / "mlartifacts", cache)


@pytest.fixture
def platform(home: Path, tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A writable copy of the home's store (snapshot included)."""
    path = tmp_path / "platform.duckdb"
    shutil.copy(home / "platform.duckdb", path)
    with store.connect(path) as con:
        yield con


@pytest.fixture
def banks(sessions: sessionmaker[Session]) -> tuple[str, str]:
    """bank_a and bank_b, committed."""
    with sessions.begin() as session:
        repo.create_tenant(session, "bank_a", "Bank A")
        repo.create_tenant(session, "bank_b", "Bank B")
    return "bank_a", "bank_b"


def subscribe(sessions: sessionmaker[Session], tenant: str) -> None:
    """A webhook endpoint for every event type, so offer changes write events."""
    with sessions.begin() as session:
        options = outbox.EndpointOptions(now=T0 - dt.timedelta(days=1), allow_private=True)
        outbox.add_endpoint(session, tenant, "http://127.0.0.1:9/hook", options=options)


def offers(sessions: sessionmaker[Session], tenant: str, status: str | None = None) -> list[Offer]:
    """The tenant's offers (optionally of one status), by code."""
    with sessions() as session:
        query = (
            select(Offer).where(Offer.tenant_id == tenant).order_by(Offer.uscc, Offer.created_at)
        )
        rows = list(session.scalars(query))
    return [row for row in rows if status is None or row.status == status]


def events(sessions: sessionmaker[Session], tenant: str) -> list[dict[str, object]]:
    """The tenant's outbox event bodies, oldest first."""
    with sessions() as session:
        query = select(OutboxEvent.payload_json).where(OutboxEvent.tenant_id == tenant)
        return [
            json.loads(body) for body in session.scalars(query.order_by(OutboxEvent.created_at))
        ]


def full_run(
    sessions: sessionmaker[Session],
    holder: ModelHolder,
    con: duckdb.DuckDBPyConnection,
    tenant: str = "bank_a",
    **options: object,
) -> OfferRun:
    """`run_offers` with small batches, so several batches and transactions are exercised."""
    params: dict[str, Any] = {"now": T0, "batch_rows": 300, "write_rows": 70} | options
    return run_offers(OfferSources(sessions, holder, con), tenant, OfferOptions(**params))


def approved_code(sessions: sessionmaker[Session], tenant: str = "bank_a") -> str:
    """An entity with an active approve offer."""
    return next(o.uscc for o in offers(sessions, tenant, "active") if o.decision == "approve")


# --- what a run writes ----------------------------------------------------------------------


def test_a_run_offers_each_approvable_entity_exactly_as_the_model_decides(
    sessions: sessionmaker[Session],
    holder: ModelHolder,
    platform: duckdb.DuckDBPyConnection,
    banks: tuple[str, str],
) -> None:
    run = full_run(sessions, holder, platform)
    frame = platform.execute(f"SELECT * FROM {snapshot.TABLE} ORDER BY uscc").df()
    expected = holder.get("bank_a").model.preapprove(frame)
    wanted = {
        code: answer
        for code, answer in zip(frame["uscc"], expected, strict=True)
        if answer["decision"] != "decline"
    }
    stored = offers(sessions, "bank_a")
    assert {o.uscc for o in stored} == set(wanted)
    assert run.counts.scored == len(frame)
    assert run.counts.created == len(wanted) == len(stored)
    assert 0 < len(wanted) < len(frame)  # the tiny platform has declines too
    for offer in stored:
        answer = wanted[offer.uscc]
        assert (offer.decision, offer.limit_cny, offer.pd, offer.grade, offer.binding) == (
            answer["decision"],
            answer["limit_cny"],
            answer["pd"],
            answer["grade_label"],
            answer["binding"],
        )
        assert json.loads(offer.reasons_json) == answer["reasons"]
        assert 1 <= len(json.loads(offer.reasons_json)) <= 5
        assert offer.limit_cny > 0
        assert offer.status == "active"
        assert offer.valid_until == T0 + dt.timedelta(days=30)
        assert offer.created_at == T0
        assert (offer.model_name, offer.model_version) == ("precredit-platform", "1")
        assert re.fullmatch(r"[0-9a-f]{64}", offer.input_hash)
    assert len({o.input_hash for o in stored}) == len(stored)


def test_a_second_run_leaves_unchanged_offers_and_sends_nothing(
    sessions: sessionmaker[Session],
    holder: ModelHolder,
    platform: duckdb.DuckDBPyConnection,
    banks: tuple[str, str],
) -> None:
    subscribe(sessions, "bank_a")
    first = full_run(sessions, holder, platform)
    before = {(o.id, o.input_hash, o.valid_until) for o in offers(sessions, "bank_a")}
    assert first.counts.events == first.counts.created == len(events(sessions, "bank_a"))
    second = full_run(sessions, holder, platform, now=T0 + dt.timedelta(days=3))
    assert second.counts.unchanged == first.counts.created
    assert (
        second.counts.created,
        second.counts.changed,
        second.counts.revoked,
        second.counts.expired,
        second.counts.events,
    ) == (0, 0, 0, 0, 0)
    assert {(o.id, o.input_hash, o.valid_until) for o in offers(sessions, "bank_a")} == before


def test_offers_expire_on_their_date_and_are_then_offered_afresh(
    sessions: sessionmaker[Session],
    holder: ModelHolder,
    platform: duckdb.DuckDBPyConnection,
    banks: tuple[str, str],
) -> None:
    first = full_run(sessions, holder, platform, valid_days=10)
    early = full_run(sessions, holder, platform, now=T0 + dt.timedelta(days=9), valid_days=10)
    assert early.counts.expired == 0
    later = T0 + dt.timedelta(days=10)
    again = full_run(sessions, holder, platform, now=later, valid_days=10)
    assert again.counts.expired == again.counts.created == first.counts.created
    assert len(offers(sessions, "bank_a", "expired")) == first.counts.created
    assert {o.valid_until for o in offers(sessions, "bank_a", "active")} == {
        later + dt.timedelta(days=10)
    }


# --- data changes ---------------------------------------------------------------------------


def add_court_listing(con: duckdb.DuckDBPyConnection, code: str) -> None:
    """A dishonest-judgment-debtor listing in force, published and ingested before the snapshot."""
    con.execute(
        "INSERT INTO court_debtors (record_id, version, retracted, uscc, court, case_no, "
        "filing_date, publish_date, obligation_cny, performance, removed_date, ingest_date) "
        "VALUES ('CD-TEST-1', 1, false, ?, '汕尾市城区人民法院', '(2025)粤1502执999号', "
        "DATE '2025-11-20', DATE '2025-12-20', 250000, 'none', NULL, DATE '2025-12-29')",
        [code],
    )


def test_a_new_court_listing_revokes_the_offer_and_tells_the_bank(
    sessions: sessionmaker[Session],
    holder: ModelHolder,
    platform: duckdb.DuckDBPyConnection,
    banks: tuple[str, str],
) -> None:
    subscribe(sessions, "bank_a")
    full_run(sessions, holder, platform)
    code = approved_code(sessions)
    add_court_listing(platform, code)
    assert snapshot.refresh(platform, [code]) == 1
    later = T0 + dt.timedelta(hours=2)
    run = rescore(
        OfferSources(sessions, holder, platform), "bank_a", [code], OfferOptions(now=later)
    )
    assert (run.counts.scored, run.counts.revoked, run.counts.created) == (1, 1, 0)
    [offer] = [o for o in offers(sessions, "bank_a") if o.uscc == code]
    assert (offer.status, offer.revoke_reason, offer.revoked_at) == (
        "revoked",
        "gate:court_debtor",
        later,
    )
    [event] = [e for e in events(sessions, "bank_a") if e["type"] == "offer.revoked"]
    data = event["data"]
    assert isinstance(data, dict)
    assert data["offer"]["offer_id"] == offer.id
    assert data["offer"]["status"] == "revoked"
    assert data["revocation"]["reason"] == "gate:court_debtor"
    [api] = holder.get("bank_a").model.preapprove(snapshot.read(platform, [code]))
    assert {k: data["revocation"][k] for k in ("decision", "pd", "grade", "reasons")} == {
        "decision": "decline",
        "pd": api["pd"],
        "grade": api["grade_label"],
        "reasons": api["reasons"],
    }
    after = full_run(sessions, holder, platform, now=later + dt.timedelta(hours=1))
    assert (after.counts.created, after.counts.revoked, after.counts.events) == (0, 0, 0)


def test_a_changed_score_supersedes_the_offer_with_a_new_one(
    sessions: sessionmaker[Session],
    holder: ModelHolder,
    platform: duckdb.DuckDBPyConnection,
    banks: tuple[str, str],
) -> None:
    subscribe(sessions, "bank_a")
    full_run(sessions, holder, platform)
    code = approved_code(sessions)
    with sessions.begin() as session:  # the offer was made on other terms (earlier data)
        session.execute(
            update(Offer).where(Offer.uscc == code).values(limit_cny=Offer.limit_cny + 1000)
        )
    run = rescore(
        OfferSources(sessions, holder, platform),
        "bank_a",
        [code.lower()],
        OfferOptions(now=T0 + dt.timedelta(hours=1)),
    )
    assert (run.counts.changed, run.counts.created, run.counts.events) == (1, 0, 1)
    old, new = [o for o in offers(sessions, "bank_a") if o.uscc == code]
    assert (old.status, old.active_key, new.status, new.replaces_id) == (
        "superseded",
        None,
        "active",
        old.id,
    )
    assert new.limit_cny == old.limit_cny - 1000
    [event] = [e for e in events(sessions, "bank_a") if e["type"] == "offer.changed"]
    data = event["data"]
    assert isinstance(data, dict)
    assert data["offer"]["offer_id"] == new.id
    assert data["previous"]["offer_id"] == old.id
    assert data["previous"]["limit_cny"] == old.limit_cny


def test_entities_gone_from_the_snapshot_lose_their_offers(
    sessions: sessionmaker[Session],
    holder: ModelHolder,
    platform: duckdb.DuckDBPyConnection,
    banks: tuple[str, str],
) -> None:
    full_run(sessions, holder, platform)
    gone = [o.uscc for o in offers(sessions, "bank_a", "active")][:2]
    platform.execute(f"DELETE FROM {snapshot.TABLE} WHERE uscc IN (?, ?)", gone)
    single = rescore(
        OfferSources(sessions, holder, platform),
        "bank_a",
        [gone[0]],
        OfferOptions(now=T0 + dt.timedelta(hours=1)),
    )
    assert (single.counts.scored, single.counts.revoked) == (0, 1)
    run = full_run(sessions, holder, platform, now=T0 + dt.timedelta(hours=2))
    assert run.counts.revoked == 1
    revoked = offers(sessions, "bank_a", "revoked")
    assert sorted(o.uscc for o in revoked) == sorted(gone)
    assert {o.revoke_reason for o in revoked} == {NOT_IN_SNAPSHOT}


# --- integrity ------------------------------------------------------------------------------


def test_the_database_holds_one_active_offer_per_entity_and_product(
    sessions: sessionmaker[Session],
    holder: ModelHolder,
    platform: duckdb.DuckDBPyConnection,
    banks: tuple[str, str],
) -> None:
    full_run(sessions, holder, platform)
    [first, *_] = offers(sessions, "bank_a", "active")
    with sessions() as session:
        columns = {c.name: getattr(first, c.name) for c in Offer.__table__.columns}
        session.add(Offer(**columns | {"id": repo.new_id()}))
        with pytest.raises(IntegrityError):
            session.commit()


def test_bulk_inserts_keep_times_in_utc_and_refuse_naive_ones(
    sessions: sessionmaker[Session], banks: tuple[str, str]
) -> None:
    shanghai = dt.timezone(dt.timedelta(hours=8))
    row = {
        "id": repo.new_id(),
        "tenant_id": "bank_a",
        "uscc": "91440300MA5FXXXX1X",
        "product": "sme_credit",
        "decision": "approve",
        "limit_cny": 1000.0,
        "pd": 0.01,
        "grade": "G03",
        "binding": "capacity:tax",
        "reasons_json": "[]",
        "model_name": "m",
        "model_version": "1",
        "snapshot_as_of": dt.date(2025, 12, 31),
        "input_hash": "0" * 64,
        "status": "active",
        "active_key": "bank_a:sme_credit:91440300MA5FXXXX1X",
        "replaces_id": None,
        "created_at": T0.astimezone(shanghai),
        "valid_until": T0,
        "revoked_at": None,
        "revoke_reason": None,
    }
    with sessions.begin() as session:
        insert_rows(session, OFFERS, [row])
    [stored] = offers(sessions, "bank_a")
    assert stored.created_at == T0
    assert stored.created_at.utcoffset() == dt.timedelta(0)
    naive = row | {"id": repo.new_id(), "active_key": None, "valid_until": T0.replace(tzinfo=None)}
    with pytest.raises((ValueError, StatementError), match="naive"), sessions.begin() as session:
        insert_rows(session, OFFERS, [naive])


def test_concurrent_runs_of_one_tenant_offer_each_entity_once(
    sessions: sessionmaker[Session],
    home: Path,
    platform: duckdb.DuckDBPyConnection,
    banks: tuple[str, str],
    tmp_path: Path,
) -> None:
    holders = [
        ModelHolder(f"sqlite:///{home / 'mlflow.db'}", home / "mlartifacts", tmp_path / f"c{i}")
        for i in range(2)
    ]
    results: list[OfferRun] = []

    def work(holder: ModelHolder) -> None:
        results.append(full_run(sessions, holder, platform.cursor()))

    threads = [threading.Thread(target=work, args=(h,)) for h in holders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(results) == 2
    active = offers(sessions, "bank_a", "active")
    assert len({o.uscc for o in active}) == len(active) == results[0].counts.offerable
    assert sum(r.counts.created for r in results) == len(offers(sessions, "bank_a")) == len(active)


def test_tenants_runs_leave_each_other_alone(
    sessions: sessionmaker[Session],
    holder: ModelHolder,
    platform: duckdb.DuckDBPyConnection,
    banks: tuple[str, str],
) -> None:
    subscribe(sessions, "bank_a")
    a = full_run(sessions, holder, platform, tenant="bank_a")
    b = full_run(sessions, holder, platform, tenant="bank_b")
    assert a.counts.created == b.counts.created > 0
    assert events(sessions, "bank_b") == []  # bank_b has no endpoint
    assert {e["tenant_id"] for e in events(sessions, "bank_a")} == {"bank_a"}
    again = full_run(sessions, holder, platform, tenant="bank_a", now=T0 + dt.timedelta(hours=1))
    assert again.counts.unchanged == a.counts.created
    assert len(offers(sessions, "bank_b", "active")) == b.counts.created
    with pytest.raises(NotFound):
        full_run(sessions, holder, platform, tenant="bank_zz")


# --- exports --------------------------------------------------------------------------------


def test_exports_follow_the_documented_schema(
    sessions: sessionmaker[Session],
    holder: ModelHolder,
    platform: duckdb.DuckDBPyConnection,
    banks: tuple[str, str],
    tmp_path: Path,
) -> None:
    run = full_run(sessions, holder, platform, out_dir=tmp_path / "out")
    active = {o.id: o for o in offers(sessions, "bank_a", "active")}
    table = pq.read_table(run.exports["parquet"])
    assert table.schema.equals(EXPORT_SCHEMA)
    assert table.num_rows == len(active)
    with run.exports["csv"].open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    lines = [
        json.loads(line) for line in run.exports["jsonl"].read_text(encoding="utf-8").splitlines()
    ]
    assert [list(r) for r in rows[:1]] == [list(COLUMNS)]
    assert len(rows) == len(lines) == len(active)
    assert all(list(line) == list(COLUMNS) for line in lines)
    frame = table.to_pandas()
    for row, line, (_, parquet) in zip(rows, lines, frame.iterrows(), strict=True):
        offer = active[line["offer_id"]]
        assert row["offer_id"] == parquet["offer_id"] == offer.id
        assert (
            float(row["limit_cny"]) == line["limit_cny"] == parquet["limit_cny"] == offer.limit_cny
        )
        assert float(row["pd"]) == line["pd"] == parquet["pd"] == offer.pd
        assert json.loads(row["reasons"]) == line["reasons"] == json.loads(offer.reasons_json)
        assert [r["code"] for r in parquet["reasons"]] == [r["code"] for r in line["reasons"]]
        assert parquet["valid_until"] == pd.Timestamp(offer.valid_until)
        assert line["valid_until"] == offer.valid_until.isoformat()
        assert row["uscc_valid"] in {"true", "false"}
    manifest = json.loads(run.exports["manifest"].read_text())
    assert manifest["rows"] == len(active)
    assert manifest["columns"] == list(COLUMNS)
    for kind in ("parquet", "csv", "jsonl"):
        assert manifest["files"][kind]["name"] == run.exports[kind].name
    assert not list((tmp_path / "out").glob("*.part"))


def test_the_docs_describe_every_export_column() -> None:
    documented = re.findall(r"^\| `([a-z_]+)` \|", DOCS.read_text(encoding="utf-8"), re.MULTILINE)
    assert [c for c in documented if c in COLUMNS] == list(COLUMNS)


# --- the command line -----------------------------------------------------------------------


def counts_of(output: str) -> dict[str, int]:
    """The counts an `offers` command printed."""
    pattern = r"^\s*(scored|carried|created|changed|revoked|expired|unchanged|events)\s+(\d+)$"
    return {name: int(n) for name, n in re.findall(pattern, output, re.MULTILINE)}


def test_offers_commands_run_export_and_rescore_after_a_correction(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copy(home / "platform.duckdb", tmp_path / "platform.duckdb")
    monkeypatch.setenv("PRECREDIT_HOME", str(tmp_path))
    monkeypatch.setenv("PRECREDIT_TRACKING_URI", f"sqlite:///{home / 'mlflow.db'}")
    monkeypatch.delenv("PRECREDIT_STORE_PATH", raising=False)
    monkeypatch.delenv("PRECREDIT_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    runner = CliRunner()
    sessions = session_factory(make_engine(sqlite_url(tmp_path / "service.db")))
    try:
        assert (
            runner.invoke(
                app, ["banks", "add", "Bank A", "--id", "bank_a", "--no-require-consent"]
            ).exit_code
            == 0
        )
        done = runner.invoke(app, ["offers", "run", "--tenant", "bank_a", "--valid-days", "7"])
        missing = runner.invoke(app, ["offers", "run", "--tenant", "bank_zz"])
        code = approved_code(sessions)
        with store.connect(tmp_path / "platform.duckdb") as con:
            add_court_listing(con, code)
        rescored = runner.invoke(app, ["offers", "rescore", "--refresh", code])
    finally:
        get_settings.cache_clear()
    assert done.exit_code == 0, done.output
    counts = counts_of(done.output)
    assert set(counts) == {
        "scored",
        "carried",
        "created",
        "changed",
        "revoked",
        "expired",
        "unchanged",
        "events",
    }
    assert counts["created"] == len(offers(sessions, "bank_a")) > 0
    for kind in ("parquet", "csv", "jsonl"):
        [path] = re.findall(rf"^\s*{kind}\s+(\S+)$", done.output, re.MULTILINE)
        assert Path(path).parent == tmp_path / "offers" / "bank_a"
        assert Path(path).is_file()
    assert isinstance(missing.exception, NotFound)
    assert rescored.exit_code == 0, rescored.output
    assert (counts_of(rescored.output)["scored"], counts_of(rescored.output)["revoked"]) == (1, 1)
    assert [o.revoke_reason for o in offers(sessions, "bank_a", "revoked")] == ["gate:court_debtor"]


# --- incremental runs: only changed entities are re-scored ---------------------------------

TERMS = ("uscc", "decision", "limit_cny", "pd", "grade", "binding", "reasons_json", "input_hash")


def active_terms(sessions: sessionmaker[Session], tenant: str) -> list[tuple[object, ...]]:
    """The tenant's active offers' terms (no ids), by code."""
    return [tuple(getattr(o, t) for t in TERMS) for o in offers(sessions, tenant, "active")]


def exported(path: Path) -> list[dict[str, object]]:
    """An export's rows (Parquet), without the offer ids and times (another run's)."""
    mine = ("offer_id", "created_at", "valid_until")
    return [
        {k: v for k, v in row.items() if k not in mine} for row in pq.read_table(path).to_pylist()
    ]


def test_an_unchanged_rerun_scores_nothing_and_keeps_every_offer(
    sessions: sessionmaker[Session],
    holder: ModelHolder,
    platform: duckdb.DuckDBPyConnection,
    banks: tuple[str, str],
    tmp_path: Path,
) -> None:
    subscribe(sessions, "bank_a")
    first = full_run(sessions, holder, platform, out_dir=tmp_path / "first")
    before = {(o.id, o.input_hash) for o in offers(sessions, "bank_a")}
    later = T0 + dt.timedelta(days=2)
    again = full_run(sessions, holder, platform, now=later, out_dir=tmp_path / "again")
    assert (again.counts.scored, again.counts.carried) == (0, first.counts.scored)
    assert again.counts.unchanged == first.counts.created
    assert (again.counts.created, again.counts.revoked, again.counts.events) == (0, 0, 0)
    assert {(o.id, o.input_hash) for o in offers(sessions, "bank_a")} == before
    assert pq.read_table(again.exports["parquet"]) == pq.read_table(first.exports["parquet"])
    for kind in ("parquet", "csv", "jsonl"):  # the same offers: the same bytes
        assert again.exports[kind].read_bytes() == first.exports[kind].read_bytes()
    sums = [json.loads(r.exports["manifest"].read_text()) for r in (first, again)]
    assert sums[0]["offer_ids_sha256"] == sums[1]["offer_ids_sha256"]
    assert sums[0]["files"]["csv"]["sha256"] == sums[1]["files"]["csv"]["sha256"]
    again.exports["jsonl"].unlink()  # a previous export missing a file is not copied
    third = full_run(sessions, holder, platform, now=later, out_dir=tmp_path / "again")
    assert third.exports["jsonl"].read_bytes() == first.exports["jsonl"].read_bytes()


def test_a_changed_entity_alone_is_rescored_and_the_result_equals_a_full_run(
    sessions: sessionmaker[Session],
    holder: ModelHolder,
    platform: duckdb.DuckDBPyConnection,
    banks: tuple[str, str],
    tmp_path: Path,
) -> None:
    subscribe(sessions, "bank_a")
    first = full_run(sessions, holder, platform)
    code = approved_code(sessions)
    add_court_listing(platform, code)  # its records change: a court listing in force
    assert snapshot.refresh(platform, [code]) == 1
    later = T0 + dt.timedelta(hours=3)
    step = full_run(sessions, holder, platform, now=later, out_dir=tmp_path / "step")
    assert (step.counts.scored, step.counts.carried) == (1, first.counts.scored - 1)
    assert (step.counts.revoked, step.counts.created, step.counts.events) == (1, 0, 1)
    [revoked] = offers(sessions, "bank_a", "revoked")
    assert (revoked.uscc, revoked.revoke_reason) == (code, "gate:court_debtor")
    # a full run of the same tenant finds nothing to change: same offers, same ids, same export
    full = full_run(sessions, holder, platform, now=later, full=True, out_dir=tmp_path / "full")
    assert (full.counts.scored, full.counts.carried) == (first.counts.scored, 0)
    assert (full.counts.created, full.counts.changed, full.counts.revoked) == (0, 0, 0)
    assert pq.read_table(full.exports["parquet"]) == pq.read_table(step.exports["parquet"])
    # and another bank's first, full run on the changed platform offers the same terms
    other = full_run(sessions, holder, platform, "bank_b", now=later, out_dir=tmp_path / "b")
    assert active_terms(sessions, "bank_b") == active_terms(sessions, "bank_a")
    b_rows, a_rows = exported(other.exports["parquet"]), exported(step.exports["parquet"])
    assert b_rows == a_rows


def test_a_new_snapshot_date_with_the_same_inputs_rescores_nothing(
    sessions: sessionmaker[Session],
    holder: ModelHolder,
    platform: duckdb.DuckDBPyConnection,
    banks: tuple[str, str],
) -> None:
    first = full_run(sessions, holder, platform)
    platform.execute(f"UPDATE {snapshot.TABLE} SET as_of = as_of + INTERVAL 1 DAY")
    again = full_run(sessions, holder, platform, now=T0 + dt.timedelta(days=1))
    assert (again.counts.scored, again.counts.carried) == (0, first.counts.scored)


def test_state_of_another_model_version_or_policy_never_matches(
    sessions: sessionmaker[Session],
    holder: ModelHolder,
    platform: duckdb.DuckDBPyConnection,
    banks: tuple[str, str],
) -> None:
    run = full_run(sessions, holder, platform)
    engine = sessions.kw["bind"]
    scorer = Scorer(run.model_name, run.model_version, run.policy_fingerprint)
    state = offer_state.load(engine, "bank_a", scorer)
    assert len(state) == run.counts.scored
    assert sum(offerable for _, offerable in state.values()) == run.counts.created
    for other in (
        Scorer(run.model_name, "2", run.policy_fingerprint),
        Scorer(run.model_name, run.model_version, "0" * 64),
        Scorer("precredit-bank_a", run.model_version, run.policy_fingerprint),
    ):
        assert offer_state.load(engine, "bank_a", other) == {}
    assert offer_state.load(engine, "bank_b", scorer) == {}
    with sessions.begin() as session:  # a forgotten state: the next run scores everything
        offer_state.forget(session, "bank_a")
    again = full_run(sessions, holder, platform, now=T0 + dt.timedelta(hours=1))
    assert (again.counts.scored, again.counts.carried, again.counts.created) == (
        run.counts.scored,
        0,
        0,
    )


def test_the_digest_is_the_input_hash_without_the_date() -> None:
    rows = [[1.0, float("nan"), -0.0], [1.0, float("nan"), 0.0], [1.0, 2.0, 0.0]]
    matrix = np.asarray(rows)
    digests = inputs_digests(["A", "A", "A"], "p", matrix)
    assert digests[0] == digests[1] != digests[2]  # -0.0 and 0.0 are one input
    assert inputs_digests(["B"], "p", matrix[:1]) != digests[:1]
    assert inputs_digests(["A"], "q", matrix[:1]) != digests[:1]
    days = {input_hash("A", "p", dt.date(2025, 12, d), matrix[0]) for d in (30, 31)}
    assert len(days) == 2  # the audit's hash keeps the date; the digest does not


def test_events_and_exports_carry_the_decision_paths_answers(
    sessions: sessionmaker[Session],
    holder: ModelHolder,
    platform: duckdb.DuckDBPyConnection,
    banks: tuple[str, str],
    tmp_path: Path,
) -> None:
    subscribe(sessions, "bank_a")
    run = full_run(sessions, holder, platform, out_dir=tmp_path / "out")
    frame = platform.execute(f"SELECT * FROM {snapshot.TABLE} ORDER BY uscc").df()
    model = holder.get("bank_a").model
    answers = dict(zip(frame["uscc"], model.preapprove(frame), strict=True))
    matrix = dict(zip(frame["uscc"], model.classifier_.matrix(frame), strict=True))
    day = {
        code: pd.Timestamp(d).date() for code, d in zip(frame["uscc"], frame["as_of"], strict=True)
    }
    lines = [json.loads(line) for line in run.exports["jsonl"].read_text().splitlines()]
    bodies = {
        e["data"]["offer"]["offer_id"]: e["data"]["offer"] for e in events(sessions, "bank_a")
    }
    assert len(lines) == len(bodies) == run.counts.created > 0
    flagged = 0
    for line in lines:
        code, answer = line["uscc"], answers[line["uscc"]]
        assert line["reasons"] == answer["reasons"]
        assert (line["decision"], line["limit_cny"], line["pd"], line["grade"]) == (
            answer["decision"],
            answer["limit_cny"],
            answer["pd"],
            answer["grade_label"],
        )
        assert line["input_hash"] == input_hash(code, run.product, day[code], matrix[code])
        assert line["uscc_valid"] == uscc.is_valid(code)
        flagged += not line["uscc_valid"]
        body = bodies[line["offer_id"]]  # the event's offer is the exported one, plus its status
        assert body == {**line, "reasons": answer["reasons"], "status": "active"}
    assert flagged == run.counts.flagged_codes


def test_an_unchanged_rerun_leaves_the_state_as_it_is_and_a_change_rewrites_it(
    sessions: sessionmaker[Session],
    holder: ModelHolder,
    platform: duckdb.DuckDBPyConnection,
    banks: tuple[str, str],
) -> None:
    def written() -> dt.datetime:
        with sessions() as session:
            return session.scalars(select(OfferState.written_at)).one()

    full_run(sessions, holder, platform)
    assert written() == T0
    full_run(sessions, holder, platform, now=T0 + dt.timedelta(days=1))
    assert written() == T0  # every entity carried, as stored: not written again
    code = approved_code(sessions)
    add_court_listing(platform, code)
    assert snapshot.refresh(platform, [code]) == 1
    later = T0 + dt.timedelta(days=2)
    changed = full_run(sessions, holder, platform, now=later)
    assert (changed.counts.scored, changed.counts.revoked) == (1, 1)
    assert written() == later
    engine = sessions.kw["bind"]
    scorer = Scorer(changed.model_name, changed.model_version, changed.policy_fingerprint)
    assert offer_state.load(engine, "bank_a", scorer)[code][1] is False
