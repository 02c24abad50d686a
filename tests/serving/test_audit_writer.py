"""Group commit of decision audit rows: every row stored, ids in order, fewer commits than calls.

Runs on SQLite and on the real PostgreSQL (the `sessions` fixture); the cross-process turn
taking is SQLite's and is tested with two real processes on one file.
"""

from __future__ import annotations

import fcntl
import multiprocessing as mp
import os
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session, sessionmaker
from test_db import decision_fields

from serving.db import repo
from serving.db.engine import make_engine, session_factory, sqlite_url
from serving.db.migrate import upgrade
from serving.db.models import Decision
from serving.decision.audit_writer import AuditUnavailable, AuditWriter, lock_path_for


@pytest.fixture
def tenant(session: Session) -> str:
    repo.create_tenant(session, "bank_a", "Bank A")
    session.commit()
    return "bank_a"


def _marked(tenant: str, mark: str) -> repo.DecisionFields:
    return decision_fields(tenant, input_hash=mark)


def _commits(engine: Engine) -> list[int]:
    counted = [0]

    def count(_connection: object) -> None:
        counted[0] += 1

    event.listen(engine, "commit", count)
    return counted


def _stored(sessions: sessionmaker[Session], ids: list[str]) -> dict[str, str]:
    with sessions() as session:
        rows = session.execute(select(Decision.id, Decision.input_hash).where(Decision.id.in_(ids)))
        return {row.id: row.input_hash for row in rows}


def test_concurrent_callers_share_commits_and_get_their_own_ids(
    engine: Engine, sessions: sessionmaker[Session], tenant: str
) -> None:
    commits = _commits(engine)
    writer = AuditWriter(sessions, lock_path_for(str(engine.url)))
    answered: dict[str, list[str]] = {}
    lock = threading.Lock()

    def caller(thread: int) -> None:
        for call in range(20):
            marks = [f"{thread}-{call}-{row}" for row in range(1 + call % 3)]
            ids = writer.write([_marked(tenant, m) for m in marks])
            with lock:
                answered.update(zip(ids, marks, strict=True))

    threads = [threading.Thread(target=caller, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    writer.close()

    calls, rows = 8 * 20, 8 * sum(1 + c % 3 for c in range(20))
    assert len(answered) == rows  # every id distinct
    assert _stored(sessions, list(answered)) == answered  # each id is the caller's own row
    assert 0 < commits[0] < calls  # callers shared commits


def test_rows_queued_behind_another_writer_are_committed_together(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "service.db")
    upgrade(url)
    engine = make_engine(url)
    sessions = session_factory(engine)
    with sessions() as session:
        repo.create_tenant(session, "bank_a", "Bank A")
        session.commit()
    commits = _commits(engine)
    lock_path = lock_path_for(url)
    assert lock_path is not None
    writer = AuditWriter(sessions, lock_path)

    other = os.open(lock_path, os.O_RDWR | os.O_CREAT)  # another worker's writer holds its turn
    fcntl.flock(other, fcntl.LOCK_EX)
    threads = [
        threading.Thread(target=writer.write, args=([_marked("bank_a", str(i))],)) for i in range(8)
    ]
    for t in threads:
        t.start()
    time.sleep(0.5)
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Decision)) == 0  # nothing yet
    fcntl.flock(other, fcntl.LOCK_UN)
    os.close(other)
    for t in threads:
        t.join(timeout=30)
    writer.close()

    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Decision)) == 8
    assert commits[0] <= 2  # the first row alone, then the seven that queued meanwhile
    engine.dispose()


def test_a_failed_commit_fails_only_its_callers_and_the_writer_goes_on(
    sessions: sessionmaker[Session], tenant: str
) -> None:
    writer = AuditWriter(sessions)
    with pytest.raises(AuditUnavailable) as refused:
        writer.write([decision_fields("no_such_bank")])  # foreign key: no tenant
    assert refused.value.http_status == 503
    assert refused.value.code == "audit_unavailable"
    ids = writer.write([_marked(tenant, "after")])
    writer.close()
    assert _stored(sessions, ids) == {ids[0]: "after"}
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Decision)) == 1


def _process_writes(url: str, start: int, barrier: object) -> None:
    sessions = session_factory(make_engine(url))
    writer = AuditWriter(sessions, lock_path_for(url))
    barrier.wait(timeout=60)  # type: ignore[attr-defined]

    def caller(thread: int) -> None:
        for call in range(25):
            writer.write([_marked("bank_a", f"{start}-{thread}-{call}")])

    threads = [threading.Thread(target=caller, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    writer.close()


def test_two_worker_processes_on_one_sqlite_file_lose_nothing(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "service.db")
    upgrade(url)
    sessions = session_factory(make_engine(url))
    with sessions() as session:
        repo.create_tenant(session, "bank_a", "Bank A")
        session.commit()
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(2)
    procs = [ctx.Process(target=_process_writes, args=(url, p, barrier)) for p in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0, 0]
    with sessions() as session:
        marks = set(session.scalars(select(Decision.input_hash)))
    assert marks == {f"{p}-{t}-{c}" for p in range(2) for t in range(4) for c in range(25)}
