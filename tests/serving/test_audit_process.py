"""One audit writer process for all workers: rows of both workers in one chain, a killed writer.

Real writer processes (`python -m serving.decision.audit_process`) on SQLite and on the real
PostgreSQL; the workers are real processes too where it matters.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing as mp
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from api_fixtures import (
    ApiStacks,
    assert_chains_whole,
    create_banks,
    migrate_with_tenants,
    service_database,
    snapshot_codes,
)
from sqlalchemy import select
from test_concurrency import serve_two_workers
from test_db import decision_fields

from serving.db.audit_verify import verify_tenant
from serving.db.engine import make_engine, session_factory, sqlite_url
from serving.db.migrate import upgrade
from serving.db.models import Decision
from serving.decision import audit_process
from serving.decision.audit_process import AuditClient, decode_rows, encode_rows
from serving.decision.audit_writer import AuditUnavailable

TENANTS = ("bank_a", "bank_b")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated service database with two banks: a SQLite file or a fresh PostgreSQL one."""
    with service_database(request.param, tmp_path) as found:
        _prepare(found)
        yield found


def _prepare(url: str) -> None:
    migrate_with_tenants(url, TENANTS)


def _stored(url: str) -> dict[str, str]:
    engine = make_engine(url)
    try:
        with session_factory(engine)() as session:
            rows = session.execute(select(Decision.id, Decision.input_hash)).all()
            return {str(i): str(mark) for i, mark in rows}
    finally:
        engine.dispose()


def test_rows_cross_the_socket_exactly() -> None:
    row = decision_fields("bank_a", pd=0.1 + 0.2, limit_cny=1e16, requested_amount_cny=None)
    row["created_at"] = dt.datetime(2026, 12, 5, 3, 4, 5, 678_901, tzinfo=dt.UTC)
    back = decode_rows(encode_rows([row, decision_fields("bank_b", uscc="\u4e2d\u6587")]))
    assert back[0] == row
    assert type(back[0]["snapshot_as_of"]) is dt.date
    assert back[1]["uscc"] == "\u4e2d\u6587"


def _worker(url: str, worker: int, barrier: object, acknowledged: object) -> None:
    """One API worker: 4 threads, each 20 single-row writes through the shared writer."""
    client = AuditClient(url)
    client.start()
    barrier.wait(timeout=120)  # type: ignore[attr-defined]
    got: dict[str, str] = {}
    lock = threading.Lock()

    def caller(thread: int) -> None:
        for call in range(20):
            mark = f"{worker}-{thread}-{call}"
            tenant = TENANTS[call % 2]
            ids = client.write([decision_fields(tenant, input_hash=mark)])
            with lock:
                got[ids[0]] = mark

    threads = [threading.Thread(target=caller, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    acknowledged.put(got)  # type: ignore[attr-defined]
    client.close()


def test_two_workers_rows_share_commits_in_one_chain(url: str) -> None:
    watcher = AuditClient(url)  # keeps the writer up until its counters are read
    watcher.start()
    ctx = mp.get_context("spawn")
    barrier, acknowledged = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(url, w, barrier, acknowledged)) for w in range(2)]
    for p in procs:
        p.start()
    got = {k: v for _ in procs for k, v in acknowledged.get(timeout=180).items()}
    for p in procs:
        p.join(timeout=60)
    assert [p.exitcode for p in procs] == [0, 0]

    assert len(got) == 2 * 4 * 20  # every id distinct
    assert _stored(url) == got  # each id is its caller's own row, nothing else stored
    assert_chains_whole(url, TENANTS)  # both workers' rows, interleaved, in each tenant's one chain
    stats = watcher.stats()
    watcher.close()
    assert stats["rows"] == 160
    assert 0 < stats["commits"] < 160  # the two workers' rows shared commits


def test_a_failed_commit_fails_only_its_callers(url: str) -> None:
    client = AuditClient(url)
    client.start()
    try:
        with pytest.raises(AuditUnavailable) as refused:
            client.write([decision_fields("no_such_bank")])  # foreign key: no such tenant
        assert (refused.value.http_status, refused.value.code) == (503, "audit_unavailable")
        ids = client.write([decision_fields("bank_a", input_hash="after")])
    finally:
        client.close()
    assert _stored(url) == {ids[0]: "after"}


def test_a_malformed_frame_is_refused_and_the_writer_goes_on(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "service.db")
    _prepare(url)
    client = AuditClient(url)
    client.start()
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as raw:
            raw.settimeout(30)
            raw.connect(audit_process.address_for(url))
            raw.sendall(audit_process._frame(audit_process.WRITE, b"{not json"))
            kind, _ = audit_process._recv_frame(raw)
        assert kind == audit_process.FAILED
        ids = client.write([decision_fields("bank_a", input_hash="still")])
    finally:
        client.close()
    assert _stored(url) == {ids[0]: "still"}


def test_a_killed_writer_loses_nothing_acknowledged_and_is_restarted(url: str) -> None:
    client = AuditClient(url)
    client.start()
    assert client._child is not None
    first = client._child.pid
    acknowledged: dict[str, tuple[str, float]] = {}  # id -> (mark, when answered)
    refused: list[float] = []
    stop = threading.Event()
    lock = threading.Lock()

    def caller(thread: int) -> None:
        call = 0
        while not stop.is_set():
            mark = f"{thread}-{call}"
            call += 1
            try:
                ids = client.write([decision_fields(TENANTS[call % 2], input_hash=mark)])
            except AuditUnavailable:
                with lock:
                    refused.append(time.monotonic())
                time.sleep(0.01)
                continue
            with lock:
                acknowledged[ids[0]] = (mark, time.monotonic())

    def answered_since(moment: float) -> int:
        with lock:
            return sum(1 for _, when in acknowledged.values() if when > moment)

    threads = [threading.Thread(target=caller, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    try:
        time.sleep(1.0)
        killed_at = time.monotonic()
        os.kill(first, signal.SIGKILL)  # mid-batch: 8 callers keep it busy
        deadline = killed_at + 90
        while time.monotonic() < deadline:  # until a new writer has answered several calls
            time.sleep(0.2)
            with lock:
                seen = [t for t in refused if t >= killed_at]
            if seen and answered_since(seen[0]) >= 10:
                break
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
    try:
        last = client.write([decision_fields("bank_a", input_hash="last")])  # the writer is back
    finally:
        client.close()

    assert answered_since(0) > 0
    assert [t for t in refused if t >= killed_at]  # in flight at the kill, and until it was back
    assert client._child is not None
    assert client._child.pid != first  # restarted by the worker
    stored = _stored(url)
    expected = {i: mark for i, (mark, _) in acknowledged.items()} | {last[0]: "last"}
    assert {i: stored.get(i) for i in expected} == expected  # nothing acknowledged lost
    assert_chains_whole(url, TENANTS)


def test_a_worker_answers_503_while_no_writer_can_start(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "service.db")
    _prepare(url)
    client = AuditClient(url)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as squatter:
        squatter.bind(audit_process.address_for(url))  # holds the address, never accepts
        client._spawned_at = time.monotonic() + 3600  # and no writer will be started meanwhile
        with pytest.raises(AuditUnavailable):
            client.write([decision_fields("bank_a")])
    client.close()
    assert _stored(url) == {}


def _writer_pids(url: str) -> list[int]:
    """The writer processes serving `url` (found by their environment)."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if b"serving.decision.audit_process" not in (proc / "cmdline").read_bytes():
                continue
            environ = (proc / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"{audit_process.ENV_URL}={url}".encode() in environ:
            found.append(int(proc.name))
    return found


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def banks_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A migrated service database with the test banks; its URL and bank_a's key."""
    with service_database(request.param, tmp_path) as found:
        upgrade(found)
        engine = make_engine(found)
        yield found, create_banks(session_factory(engine)).bank_a
        engine.dispose()


def test_two_workers_answer_503_while_their_writer_is_killed_and_lose_nothing(
    api_stacks: ApiStacks, banks_url: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PRECREDIT_AUDIT_WRITER", "process")  # the server's environment
    url, key = banks_url
    codes = snapshot_codes(api_stacks.home, limit=40)
    answered: dict[str, str] = {}  # decision id -> code, for every 200
    statuses: list[tuple[float, int, str]] = []
    stop = threading.Event()
    lock = threading.Lock()

    def caller(base_url: str, thread: int) -> None:
        with httpx.Client(base_url=base_url, timeout=60) as client:
            call = 0
            while not stop.is_set():
                code = codes[(thread * 7 + call) % len(codes)]
                call += 1
                response = client.post(
                    "/v1/preapprovals",
                    json={"uscc": code},
                    headers={"Authorization": f"Bearer {key}"},
                )
                with lock:
                    statuses.append((time.monotonic(), response.status_code, response.text))
                    if response.status_code == 200:
                        answered[response.json()["decision_id"]] = code

    with serve_two_workers(api_stacks.home, url) as base_url:
        pids = _writer_pids(url)
        assert len(pids) == 1  # one writer for both workers
        threads = [threading.Thread(target=caller, args=(base_url, t)) for t in range(8)]
        for t in threads:
            t.start()
        try:
            time.sleep(2.0)
            os.kill(pids[0], signal.SIGKILL)
            killed_at = time.monotonic()
            deadline = killed_at + 60
            while time.monotonic() < deadline:
                time.sleep(0.5)
                with lock:
                    after = [s for t, s, _ in statuses if t > killed_at]
                if 503 in after and after.count(200) >= 20 and after[-1] == 200:
                    break
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=120)
        restarted = _writer_pids(url)

    assert {status for _, status, _ in statuses} <= {200, 503}  # never a 500
    for _, status, text in statuses:
        if status == 503:
            assert "audit_unavailable" in text
    after = [s for t, s, _ in statuses if t > killed_at]
    assert 503 in after  # the requests in flight at the kill, and until a writer was back
    assert after.count(200) >= 20  # then answered again
    assert restarted
    assert restarted != pids  # by a new writer process
    engine = make_engine(url)
    try:
        with session_factory(engine)() as session:
            rows = session.execute(
                select(Decision.id, Decision.uscc).where(Decision.id.in_(list(answered)))
            ).all()
            assert {str(i): str(c) for i, c in rows} == answered  # nothing acknowledged lost
            assert verify_tenant(session, "bank_a").broken is None  # both workers, one chain
    finally:
        engine.dispose()
