"""One audit writer process for every worker of a service database, fed over a Unix socket.

With a group-commit writer thread in each worker (`serving.decision.audit_writer`), the
workers' commits on SQLite took turns through a file lock: measured with 2 processes of 8
callers (`bench/bench_audit_writer.py`), a commit waited ~5 ms for the other worker's turn,
then held the database ~6 ms (chain, INSERT, fsync) for ~3.3 rows, so the database's one
writer slot, not the CPU, set the rate. Here one process alone commits: it takes every
request queued on its connections while the last commit ran, commits their rows in one
transaction and answers each connection with its rows' ids. There is no turn to wait for,
and a commit groups the rows of both workers.

Invariants (as for the thread writer):
- a row's id is answered only after its transaction committed (same `synchronous` setting);
  a worker answers a decision only with that id, so nothing is answered that is not stored;
- a failed commit answers failure to every request of its batch (503 `audit_unavailable` at
  the API), and the writer goes on with the next batch;
- the hash chain is extended in the committing transaction, after the tenant's turn
  (`serving.db.audit_chain`), so other writers of decisions (financing requests, a thread
  writer of another configuration) keep one chain with it.

The socket is in Linux's abstract namespace, named after the database URL: binding it is the
election (a second writer for the URL fails to bind and exits), and it vanishes with its
process, so a killed writer leaves nothing stale. Only processes of the same user may
connect (`SO_PEERCRED`). A worker that cannot reach the writer (never started, or killed)
starts one (`AuditClient`) and answers 503 until it is reachable; the writer exits once it
has had no connection for `IDLE_EXIT_SECONDS`. Frames are a kind byte, a 4-byte length and
JSON (no pickle: the writer trusts no payload to be code).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import hashlib
import json
import logging
import os
import selectors
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

import orjson

from serving.db.audit import DecisionFields

log = logging.getLogger(__name__)

ENV_URL = "PRECREDIT_AUDIT_PROCESS_URL"  # how the writer learns its database (not argv: ps)
IDLE_EXIT_SECONDS = 5.0  # no connection for this long: the writer exits
START_SECONDS = 60.0  # a worker waits this long at start-up for the writer to answer
SPAWN_EVERY_SECONDS = 0.5  # a worker starts a writer at most this often
REPLY_SECONDS = 120.0  # a request waits this long for its commit, then 503
MAX_ROWS_PER_COMMIT = 1024
_HEAD = struct.Struct("!cI")  # kind, payload length
WRITE, STATS, OK, FAILED = b"W", b"S", b"K", b"F"
_DATES = ("snapshot_as_of",)
_TIMES = ("created_at",)


def address_for(url: str) -> bytes:
    """The writer's abstract socket address for the service database `url`."""
    digest = hashlib.sha256(url.encode()).hexdigest()[:32]
    return b"\0precredit-audit-" + digest.encode()


def encode_rows(rows: Sequence[DecisionFields]) -> bytes:
    """The rows as JSON (orjson: dates and times as ISO texts, floats that read back exactly).

    The stdlib's `json.dumps` took ~60 us per 8 KB audit row (escaping its three JSON texts),
    orjson ~10 us, on the worker's thread that waits for the commit.
    """
    return orjson.dumps(rows)


def decode_rows(payload: bytes) -> list[DecisionFields]:
    """The rows `encode_rows` wrote, with their dates and times as objects again."""
    rows = orjson.loads(payload)
    for row in rows:
        for name in _DATES:
            if row.get(name) is not None:
                row[name] = dt.date.fromisoformat(row[name])
        for name in _TIMES:
            if row.get(name) is not None:
                row[name] = dt.datetime.fromisoformat(row[name])
    return rows  # type: ignore[no-any-return]


def _frame(kind: bytes, payload: bytes) -> bytes:
    return _HEAD.pack(kind, len(payload)) + payload


def _recv_frame(sock: socket.socket) -> tuple[bytes, bytes]:
    """One frame; most arrive whole in the first `recv` (a reply: one syscall)."""
    data = sock.recv(65536)
    while True:
        if not data:
            raise ConnectionResetError(errno.ECONNRESET, "the audit writer closed the connection")
        if len(data) >= _HEAD.size:
            kind, size = _HEAD.unpack_from(data)
            if len(data) >= _HEAD.size + size:
                return kind, data[_HEAD.size : _HEAD.size + size]
        more = sock.recv(65536)
        if not more:
            data = b""
            continue
        data += more


# --- the worker's side ---------------------------------------------------------------------


class AuditClient:
    """`write(rows)`: the rows' ids once the writer process committed them (like `AuditWriter`).

    Thread-safe: each calling thread has its own connection to the writer. A writer that cannot
    be reached (or dies while a request waits) makes the call raise `AuditUnavailable` (503)
    and starts a new writer; the next calls are answered as soon as it listens.
    """

    def __init__(self, url: str) -> None:
        self._url = url
        self._address = address_for(url)
        self._local = threading.local()
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._child: subprocess.Popen[bytes] | None = None
        self._spawned_at = -SPAWN_EVERY_SECONDS
        self._closed = False
        self._keeper: threading.Thread | None = None
        self._kept = threading.Event()  # the keeper is connected to a writer

    def start(self, seconds: float = START_SECONDS) -> None:
        """Keep a writer running for this worker, and wait until one answers (start-up).

        A keeper thread holds one idle connection to the writer: the writer lives as long as a
        worker does (it exits only when none is connected), and the moment it dies the keeper
        sees the connection close and starts a new one.
        """
        with self._lock:
            if self._keeper is None:
                self._keeper = threading.Thread(target=self._keep, name="audit-keeper", daemon=True)
                self._keeper.start()
        deadline = time.monotonic() + seconds
        while not self._kept.wait(0.02):
            if time.monotonic() > deadline:
                raise _unavailable()

    def _keep(self) -> None:
        while not self._closed:
            try:
                sock = self._connect()
            except OSError:
                self._spawn()
                time.sleep(0.02)
                continue
            with self._lock:
                if self._closed:
                    sock.close()
                    return
                self._sockets.add(sock)
            self._kept.set()
            try:
                sock.settimeout(None)
                sock.recv(1)  # the writer never writes here: returns when it exits or dies
            except OSError:
                pass
            self._kept.clear()
            self._drop(sock)

    def write(self, rows: Sequence[DecisionFields]) -> list[str]:
        """Store `rows` durably; their ids in order. AuditUnavailable (503) if not committed."""
        if not rows:
            return []
        reply = self._ask(WRITE, encode_rows(rows))
        ids: list[str] = json.loads(reply)
        if len(ids) != len(rows):
            raise _unavailable()
        return ids

    def stats(self) -> dict[str, Any]:
        """The writer's counters since it started (commits, rows, seconds by part)."""
        return json.loads(self._ask(STATS, b""))  # type: ignore[no-any-return]

    def close(self) -> None:
        """Close every connection of this worker (the writer exits when no worker is left)."""
        with self._lock:
            self._closed = True
            sockets, self._sockets = self._sockets, set()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)  # wakes the keeper's recv
            sock.close()

    def _ask(self, kind: bytes, payload: bytes) -> bytes:
        sock = self._socket()
        try:
            sock.sendall(_frame(kind, payload))
            answer, reply = _recv_frame(sock)
        except OSError:  # the writer died or hung: this request is not known to be stored
            self._drop(sock)
            self._spawn()
            raise _unavailable() from None
        if answer != OK:
            raise _unavailable()
        return reply

    def _socket(self) -> socket.socket:
        sock: socket.socket | None = getattr(self._local, "sock", None)
        if sock is not None:
            return sock
        try:
            sock = self._connect()
        except OSError:
            self._spawn()
            raise _unavailable() from None
        with self._lock:
            if self._closed:
                sock.close()
                raise _unavailable()
            self._sockets.add(sock)
        self._local.sock = sock
        return sock

    def _connect(self) -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(REPLY_SECONDS)
            sock.connect(self._address)
        except OSError:
            sock.close()
            raise
        return sock

    def _drop(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.discard(sock)
        if getattr(self._local, "sock", None) is sock:
            self._local.sock = None
        sock.close()

    def _spawn(self) -> None:
        """Start a writer process unless this worker's last one still runs or just started."""
        with self._lock:
            if self._closed:
                return
            if self._child is not None:
                if self._child.poll() is None:
                    return  # still starting, or alive and about to listen again
                self._child = None
            now = time.monotonic()
            if now - self._spawned_at < SPAWN_EVERY_SECONDS:
                return
            self._spawned_at = now
            env = dict(os.environ) | {ENV_URL: self._url}
            self._child = subprocess.Popen(  # same process group: stopped with the server
                [sys.executable, "-m", "serving.decision.audit_process"],
                env=env,
                stdin=subprocess.DEVNULL,
            )


def _unavailable() -> Exception:
    from serving.decision.audit_writer import AuditUnavailable

    return AuditUnavailable("the decision could not be recorded; nothing was decided, retry")


# --- the writer's side ---------------------------------------------------------------------


class _Connection:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = bytearray()

    def frames(self) -> list[tuple[bytes, bytes]]:
        """The complete frames received so far (removed from the buffer)."""
        out = []
        while len(self.buffer) >= _HEAD.size:
            kind, size = _HEAD.unpack_from(self.buffer)
            if len(self.buffer) < _HEAD.size + size:
                break
            out.append((kind, bytes(self.buffer[_HEAD.size : _HEAD.size + size])))
            del self.buffer[: _HEAD.size + size]
        return out


class Writer:
    """The writer's loop: accept, read every ready request, commit them together, answer."""

    def __init__(self, url: str, listener: socket.socket) -> None:
        from serving.db.audit_dbapi import AuditRecorder
        from serving.db.engine import make_engine
        from serving.decision.audit_writer import _open_lock, lock_path_for

        self._engine = make_engine(url, pool_size=1)
        self._recorder = AuditRecorder(self._engine)  # no Session: ~40% less CPU per row
        lock_path = lock_path_for(url)
        self._lock_fd = None if lock_path is None else _open_lock(lock_path)
        self._listener = listener
        self._selector = selectors.DefaultSelector()
        self._selector.register(listener, selectors.EVENT_READ)
        self._connections: dict[socket.socket, _Connection] = {}
        self._uid = os.getuid()
        counted = ("commits", "rows", "failed_commits", "commit_seconds", "cpu_seconds")
        self.counters: dict[str, float] = dict.fromkeys(
            (*counted, "insert_seconds", "sync_seconds", "slowest_seconds"), 0
        )

    def run(self) -> None:
        """Serve until no worker has been connected for `IDLE_EXIT_SECONDS`."""
        idle_since = time.monotonic()
        while True:
            waiting: list[tuple[_Connection, list[DecisionFields] | None]] = []
            for key, _ in self._selector.select(timeout=1.0):
                if key.fileobj is self._listener:
                    self._accept()
                else:
                    waiting.extend(self._read(self._connections[key.fileobj]))  # type: ignore[index]
            if waiting:
                self._answer(waiting)
            if self._connections:
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since > IDLE_EXIT_SECONDS:
                return

    def _accept(self) -> None:
        try:
            sock, _ = self._listener.accept()
        except BlockingIOError:
            return
        credentials = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        pid, uid, _ = struct.unpack("3i", credentials)
        if uid != self._uid:
            log.warning("audit writer refused a connection from uid %d (pid %d)", uid, pid)
            sock.close()
            return
        sock.setblocking(True)
        sock.settimeout(10.0)  # answers are small; a peer that reads nothing is dropped
        self._connections[sock] = _Connection(sock)
        self._selector.register(sock, selectors.EVENT_READ)

    def _read(self, conn: _Connection) -> list[tuple[_Connection, list[DecisionFields] | None]]:
        try:
            data = conn.sock.recv(65536)  # more than 64 KB: the next loop reads on
        except OSError:
            data = b""
        if not data:
            self._close(conn)
            return []
        conn.buffer += data
        out: list[tuple[_Connection, list[DecisionFields] | None]] = []
        for kind, payload in conn.frames():
            if kind == WRITE:
                try:
                    out.append((conn, decode_rows(payload)))
                except (ValueError, TypeError, AttributeError, KeyError):
                    self._reply(conn, FAILED, b"")
            elif kind == STATS:
                self._reply(conn, OK, json.dumps(self.counters).encode())
            else:
                self._close(conn)
                return []
        return out

    def _answer(self, waiting: list[tuple[_Connection, list[DecisionFields] | None]]) -> None:
        """Commit the waiting requests' rows (at most MAX_ROWS_PER_COMMIT per transaction)."""
        start = 0
        while start < len(waiting):
            end, rows = start, 0
            while end < len(waiting) and (end == start or rows < MAX_ROWS_PER_COMMIT):
                rows += len(waiting[end][1] or [])
                end += 1
            group = waiting[start:end]
            ids = self._commit([row for _, batch in group for row in batch or []])
            at = 0
            for conn, batch in group:
                n = len(batch or [])
                if ids is None:
                    self._reply(conn, FAILED, b"")
                else:
                    self._reply(conn, OK, json.dumps(ids[at : at + n]).encode())
                at += n
            start = end

    def _commit(self, rows: list[DecisionFields]) -> list[str] | None:
        from serving.decision.audit_writer import _turn

        cpu, started = time.process_time(), time.perf_counter()
        try:
            with _turn(self._lock_fd):
                ids = self._recorder.record(rows)
                inserted = self._recorder.inserted_at
        except Exception:  # every waiter must be answered, whatever failed
            log.exception("audit commit failed for %d decisions", len(rows))
            self.counters["failed_commits"] += 1
            return None
        self.counters["commits"] += 1
        self.counters["rows"] += len(rows)
        ended = time.perf_counter()
        self.counters["commit_seconds"] += ended - started
        self.counters["insert_seconds"] += inserted - started  # turn, chain and INSERT
        self.counters["sync_seconds"] += ended - inserted  # COMMIT: the fsync
        self.counters["slowest_seconds"] = max(self.counters["slowest_seconds"], ended - started)
        self.counters["cpu_seconds"] += time.process_time() - cpu
        return ids

    def _reply(self, conn: _Connection, kind: bytes, payload: bytes) -> None:
        try:
            conn.sock.sendall(_frame(kind, payload))
        except OSError:
            self._close(conn)

    def _close(self, conn: _Connection) -> None:
        if self._connections.pop(conn.sock, None) is not None:
            self._selector.unregister(conn.sock)
        conn.sock.close()


def listen(url: str) -> socket.socket | None:
    """The writer's listening socket for `url`; None if another writer holds the address."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(address_for(url))
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            return None
        raise
    sock.listen(256)
    sock.setblocking(False)
    return sock


def main() -> None:
    """The writer process (`python -m serving.decision.audit_process`, started by a worker)."""
    from serving import logs

    logs.install()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the workers; they stop it
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    url = os.environ.get(ENV_URL)
    if not url:
        raise SystemExit(f"{ENV_URL} is not set")
    listener = listen(url)
    if listener is None:
        return  # another writer serves this database
    Writer(url, listener).run()


if __name__ == "__main__":
    main()
