"""Where the audited time goes with 2 worker processes: the audit writer's commits, timed by part.

    python bench/bench_audit_writer.py --home HOME [--threads 8] [--requests 2000]
                                       [--database-url URL] [--mode thread|process]

Two processes (two API workers without HTTP), each with `--threads` threads calling
`decisions.score` (the API's audited path) over distinct codes, like a uvicorn worker's thread
pool under 16 connections. `--mode thread`: each process has its own group-commit writer
thread (`AuditWriter`, the advisory file lock on SQLite); the commits are timed by part:
the wait for the other worker's turn, the chain (tenant lock on PostgreSQL, head read, hashes),
the INSERT, the COMMIT (its fsync), with the rows per commit and the writer thread's CPU.
`--mode process`: both processes send their rows to one writer process
(`serving.decision.audit_process`), which reports the same parts itself.
Prints one JSON object: the rate, p50/p99 of a call, the commits' figures and the CPU seconds
of the two processes and of the writer.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import inprocess
import numpy as np

from serving.db.audit import record_decisions
from serving.decision import audit_writer
from serving.decision.audit_writer import AuditWriter, _Pending


class TimedWriter(AuditWriter):
    """`AuditWriter` whose commits record their parts (seconds), rows and thread CPU."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.parts: dict[str, list[float]] = {
            k: [] for k in ("rows", "turn", "chain", "insert", "commit", "total", "cpu")
        }

    def _commit(self, batch: list[_Pending], fd: int | None) -> None:
        cpu0, t0 = time.thread_time(), time.perf_counter()
        rows = [row for p in batch for row in p.rows]
        with _timed_turn(fd, self.parts), self._sessions() as session:
            t1 = time.perf_counter()
            import serving.db.audit as audit_module

            chain = audit_module.chain
            timings: dict[str, float] = {}

            def timed_chain(s: Any, values: Any) -> None:
                c0 = time.perf_counter()
                chain(s, values)
                timings["chain"] = time.perf_counter() - c0

            audit_module.chain = timed_chain  # type: ignore[assignment]
            try:
                ids = record_decisions(session, rows)
            finally:
                audit_module.chain = chain
            t2 = time.perf_counter()
            session.commit()
            t3 = time.perf_counter()
        self.parts["rows"].append(len(rows))
        self.parts["chain"].append(timings["chain"])
        self.parts["insert"].append(t2 - t1 - timings["chain"])
        self.parts["commit"].append(t3 - t2)
        self.parts["total"].append(time.perf_counter() - t0)
        self.parts["cpu"].append(time.thread_time() - cpu0)
        audit_writer.release(batch, ids)


@contextmanager
def _timed_turn(fd: int | None, parts: dict[str, list[float]]) -> Any:
    t0 = time.perf_counter()
    with audit_writer._turn(fd):
        parts["turn"].append(time.perf_counter() - t0)
        yield


def _process(
    home: str, database_url: str | None, mode: str, tenant: str, codes: list[str], threads: int,
    barrier: Any, queue: Any,
) -> None:  # fmt: skip
    if database_url:
        os.environ["PRECREDIT_DATABASE_URL"] = database_url
    os.environ["PRECREDIT_AUDIT_WRITER"] = mode
    services = inprocess.services_for(Path(home))
    writer = None
    if mode == "thread":
        writer = TimedWriter(
            services.sessions, audit_writer.lock_path_for(services.settings.service_db)
        )
        services.audit = writer
    product = services.models.get(tenant).model.policy_.product
    call = inprocess.audited(services, tenant, product)
    inprocess.warm(call, codes)
    barrier.wait(timeout=300)
    parts = [codes[i::threads] for i in range(threads)]
    results: list[tuple[list[float], float, float]] = []
    stats0 = services.audit.stats() if mode == "process" else None  # type: ignore[attr-defined]
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    workers = [
        threading.Thread(target=lambda p=p: results.append(inprocess.timed(call, p))) for p in parts
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    if stats0 is not None:  # the writer process's counters over the run (both workers' rows)
        stats1 = services.audit.stats()  # type: ignore[attr-defined]
        parts: Any = {k: stats1[k] - stats0[k] for k in stats1}
        parts["slowest_seconds"] = stats1["slowest_seconds"]  # since the writer started
    else:
        parts = None if writer is None else writer.parts
    queue.put((results, cpu, parts))
    services.audit.close()
    services.snapshot.close()


def _summary(parts: list[dict[str, list[float]]]) -> dict[str, Any]:
    merged = {k: [x for p in parts for x in p[k]] for k in parts[0]}
    n = len(merged["rows"])
    out: dict[str, Any] = {
        "commits": n,
        "rows_per_commit_mean": round(float(np.mean(merged["rows"])), 2),
    }
    out["rows_per_commit_p50_p90"] = [float(np.percentile(merged["rows"], q)) for q in (50, 90)]
    for k in ("turn", "chain", "insert", "commit", "total", "cpu"):
        out[f"{k}_ms_mean"] = round(1000 * float(np.mean(merged[k])), 3)
    out["slowest_commit_ms"] = round(1000 * float(np.max(merged["commit"])), 1)
    out["slowest_turn_ms"] = round(1000 * float(np.max(merged["turn"])), 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--database-url")
    parser.add_argument("--mode", choices=["thread", "process"], default="thread")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--requests", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--tenant", default="demo_bank")
    args = parser.parse_args()
    codes = inprocess.sample_codes(args.home / "platform.duckdb", args.requests, args.seed)
    ctx = mp.get_context("spawn")
    barrier, queue = ctx.Barrier(2), ctx.Queue()
    load0 = os.getloadavg()[0]
    procs = [
        ctx.Process(
            target=_process,
            args=(
                str(args.home),
                args.database_url,
                args.mode,
                args.tenant,
                half,
                args.threads,
                barrier,
                queue,
            ),
        )
        for half in (codes[0::2], codes[1::2])
    ]
    for p in procs:
        p.start()
    got = [queue.get(timeout=900) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    flat = [r for g in got for r in g[0]]
    out: dict[str, Any] = {
        "mode": args.mode,
        "threads_per_process": args.threads,
        "load_average": [round(load0, 2), round(os.getloadavg()[0], 2)],
        "calls": inprocess._merged(flat),
        "worker_cpu_ms_per_call": round(1000 * sum(g[1] for g in got) / len(codes), 3),
    }
    if args.mode == "thread":
        out["writer"] = _summary([g[2] for g in got])
    else:  # each process read the counters over its own run: the longer covers both
        c = max((g[2] for g in got), key=lambda d: d["rows"])
        out["writer"] = {
            "commits": c["commits"],
            "rows_per_commit_mean": round(c["rows"] / max(c["commits"], 1), 2),
            "total_ms_mean": round(1000 * c["commit_seconds"] / max(c["commits"], 1), 3),
            "cpu_ms_mean": round(1000 * c["cpu_seconds"] / max(c["commits"], 1), 3),
            "turn_chain_insert_ms_mean": round(
                1000 * c["insert_seconds"] / max(c["commits"], 1), 3
            ),
            "commit_ms_mean": round(1000 * c["sync_seconds"] / max(c["commits"], 1), 3),
            "slowest_commit_ms": round(1000 * c["slowest_seconds"], 1),
            "failed_commits": c["failed_commits"],
        }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
