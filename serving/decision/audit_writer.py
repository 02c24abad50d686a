"""Group commit for the decisions audit: one durable transaction for every answer waiting.

A pre-approval is recorded before it is answered (DESIGN, "Tenancy and audit"). Committed one
by one, decisions cost one fsync each, serialised across workers by SQLite's write lock, whose
busy handler sleeps 1-100 ms between tries: that, not the model, set the API's pace and its
p99. Here one writer thread per process takes every row queued while the previous commit ran
and commits them together. A request still waits for the commit of its own row, so nothing is
answered that is not stored; what changes is how many answers share one fsync.

On SQLite the writers of all workers sharing the file also take turns through an advisory
file lock (`<database>-audit.lock`): a waiting writer wakes the moment the other releases
instead of polling, and `BEGIN IMMEDIATE` then finds the database free. PostgreSQL needs no
such turn; it still gains from fewer commits.
"""

from __future__ import annotations

import fcntl
import logging
import os
import queue
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from catalog.errors import PrecreditError
from serving.db.audit import DecisionFields, record_decisions

log = logging.getLogger(__name__)
MAX_ROWS_PER_COMMIT = 1024


class AuditUnavailable(PrecreditError):
    """The decision could not be recorded, so it is not answered."""

    http_status = 503
    code = "audit_unavailable"


class AuditSink(Protocol):
    """Where a worker's decisions are committed: this thread writer or the writer process."""

    def write(self, rows: Sequence[DecisionFields]) -> list[str]:
        """Store `rows` durably; their ids in order. AuditUnavailable (503) if not committed."""
        ...

    def close(self) -> None:
        """Stop writing for this worker."""
        ...


@dataclass
class _Pending:
    rows: Sequence[DecisionFields]
    done: threading.Event = field(default_factory=threading.Event)
    ids: list[str] = field(default_factory=list)
    failed: bool = False


class AuditWriter:
    """`write(rows)` returns the rows' decision ids once they are committed, with other callers'.

    Thread-safe; the writer thread starts on first use and stops at `close()`.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        lock_path: Path | None = None,
        max_rows: int = MAX_ROWS_PER_COMMIT,
    ) -> None:
        self._sessions = sessions
        self._lock_path = lock_path
        self._max_rows = max_rows
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._starting = threading.Lock()

    def write(self, rows: Sequence[DecisionFields]) -> list[str]:
        """Store `rows` durably; their ids in order. AuditUnavailable (503) if the commit failed."""
        if not rows:
            return []
        pending = _Pending(rows)
        self._start()
        self._queue.put(pending)
        pending.done.wait()
        if pending.failed:
            raise AuditUnavailable("the decision could not be recorded; nothing was decided, retry")
        return pending.ids

    def close(self) -> None:
        """Commit what is queued, then stop the writer thread."""
        with self._starting:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join()

    def _start(self) -> None:
        if self._thread is not None:
            return
        with self._starting:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        fd = None
        try:
            if self._lock_path is not None:
                fd = _open_lock(self._lock_path)
            stop = False
            while not stop:
                batch, stop = self._collect()
                if batch:
                    self._commit(batch, fd)
        finally:
            if fd is not None:
                os.close(fd)

    def _collect(self) -> tuple[list[_Pending], bool]:
        """Block for the first request, then take whatever else is already queued."""
        first = self._queue.get()
        if first is None:
            return [], True
        batch, rows = [first], len(first.rows)
        while rows < self._max_rows:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is None:
                return batch, True
            batch.append(item)
            rows += len(item.rows)
        return batch, False

    def _commit(self, batch: list[_Pending], fd: int | None) -> None:
        try:
            with _turn(fd), self._sessions() as session:
                ids = record_decisions(session, [row for p in batch for row in p.rows])
                session.commit()
        except Exception:  # every waiter must be released, whatever failed
            log.exception("audit commit failed for %d decisions", sum(len(p.rows) for p in batch))
            for pending in batch:
                pending.failed = True
                pending.done.set()
            return
        release(batch, ids)


def release(batch: Sequence[_Pending], ids: Sequence[str]) -> None:
    """Hand each waiter its rows' decision ids, in the order the batch's rows were recorded."""
    start = 0
    for pending in batch:
        pending.ids = list(ids[start : start + len(pending.rows)])
        start += len(pending.rows)
        pending.done.set()


@contextmanager
def _turn(fd: int | None) -> Iterator[None]:
    """Hold the exclusive file lock (if any) for one commit: workers take turns in the kernel."""
    if fd is None:
        yield
        return
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


def _open_lock(path: Path) -> int | None:
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as error:  # still correct without turns: SQLite's busy_timeout queues writers
        log.warning("audit writers will not take turns (%s): %s", path, error.strerror)
        return None


def lock_path_for(url: str) -> Path | None:
    """The turn-taking lock file beside a SQLite database; None for PostgreSQL or in-memory."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(f"{parsed.database}-audit.lock")
