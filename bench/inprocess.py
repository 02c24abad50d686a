"""In-process cost of one explained pre-approval, for bench_api: the API's path without HTTP.

Three loops over the same varied credit codes, each call timed on its own:
`decide_only` (features of a fetched snapshot row -> PD, SHAP, limit), `lookup_and_decide`
(code check, model lookup, snapshot row, decide: everything but the audit) and
`with_audit_write` (`decisions.score`: the audit row committed before it returns, like the API).
Then the same audited path on both cores: 2 threads (own `Services` each, so own DuckDB
cursor, model copy and engine), 2 threads sharing one `Services` (one uvicorn worker's
thread pool) and 2 processes (two workers without HTTP).
"""

from __future__ import annotations

import multiprocessing as mp
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from catalog import store, uscc
from features import snapshot
from serving.app import build_services
from serving.config import Settings
from serving.decision import decisions, scoring
from serving.state import Services

WARMUP = 50


def sample_codes(store_path: Path, n: int, seed: int) -> list[str]:
    """`n` distinct valid codes of the snapshot, shuffled with `seed`."""
    with store.connect(store_path, read_only=True) as con:
        rows = con.execute(f"SELECT DISTINCT uscc FROM {snapshot.TABLE} ORDER BY uscc").fetchall()
    codes = [str(r[0]) for r in rows if uscc.is_valid(str(r[0]))]
    return random.Random(seed).sample(codes, min(n, len(codes)))


def services_for(home: Path) -> Services:
    """The API's own services on `home`, model polling off."""
    return build_services(Settings(home=home, model_poll_seconds=0))


def summary(latencies: list[float], wall: float) -> dict[str, float]:
    """Count, rate and latency percentiles (ms) of one loop."""
    ms = np.asarray(latencies) * 1e3
    return {
        "n": len(ms),
        "per_second": round(len(ms) / wall, 1),
        "p50_ms": round(float(np.percentile(ms, 50)), 3),
        "p90_ms": round(float(np.percentile(ms, 90)), 3),
        "p99_ms": round(float(np.percentile(ms, 99)), 3),
        "max_ms": round(float(ms.max()), 3),
    }


def warm(call: Callable[[str], object], codes: list[str]) -> None:
    """A few untimed calls first (caches, lazy imports, connection pool)."""
    for code in codes[:WARMUP]:
        call(code)


def timed(call: Callable[[str], object], codes: list[str]) -> tuple[list[float], float, float]:
    """Per-call seconds over `codes`; also the loop's start and end (monotonic clock)."""
    latencies = []
    started = time.monotonic()
    for code in codes:
        t0 = time.perf_counter()
        call(code)
        latencies.append(time.perf_counter() - t0)
    return latencies, started, time.monotonic()


def audited(services: Services, tenant: str, product: str) -> Callable[[str], object]:
    """One API request's work: score, then wait for the audit row's commit (group commit)."""

    def call(code: str) -> object:
        return decisions.score(services, tenant, code, product, 500_000.0)

    return call


def unaudited(services: Services, tenant: str, product: str) -> Callable[[str], object]:
    """`decisions.score` without the audit insert: code, model, snapshot row, decide."""

    def call(code: str) -> object:
        canonical = uscc.canonical(code)
        served = services.models.get(tenant)
        row = services.snapshot.row(canonical)
        features = scoring.feature_values_dict(row, served.model.spec.names)
        request = scoring.Request(canonical, product, 500_000.0)
        return scoring.decide(served, request, features, row.as_of)

    return call


def decide_only(
    services: Services, tenant: str, product: str, codes: list[str]
) -> dict[str, float]:
    """PD + SHAP + limit from already fetched snapshot rows."""
    served = services.models.get(tenant)
    rows = {code: services.snapshot.row(code) for code in codes}

    def call(code: str) -> object:
        features = scoring.feature_values_dict(rows[code], served.model.spec.names)
        return scoring.decide(served, scoring.Request(code, product, 500_000.0), features, "x")

    warm(call, codes)
    latencies, started, ended = timed(call, codes)
    return summary(latencies, ended - started)


def single_thread(
    services: Services, tenant: str, product: str, codes: list[str]
) -> dict[str, Any]:
    """The three single-thread loops on one `Services`."""
    out: dict[str, Any] = {"decide_only": decide_only(services, tenant, product, codes)}
    for name, make in (("lookup_and_decide", unaudited), ("with_audit_write", audited)):
        call = make(services, tenant, product)
        warm(call, codes)
        latencies, started, ended = timed(call, codes)
        out[name] = summary(latencies, ended - started)
    return out


def _thread_loop(
    call: Callable[[str], object],
    codes: list[str],
    barrier: threading.Barrier,
    results: list[tuple[list[float], float, float]],
) -> None:
    warm(call, codes)
    barrier.wait()
    results.append(timed(call, codes))


def two_threads(
    home: Path, tenant: str, product: str, codes: list[str], shared: bool, threads: int = 2
) -> dict[str, float]:
    """The audited path on `threads` threads, each with its own `Services` unless `shared`.

    Shared, the threads are one API worker's thread pool: their audit rows share commits.
    """
    first = services_for(home)
    both = [first] + [first if shared else services_for(home) for _ in range(threads - 1)]
    barrier, results = threading.Barrier(threads), []  # type: ignore[var-annotated]
    parts = [codes[i::threads] for i in range(threads)]
    threads_ = [
        threading.Thread(
            target=_thread_loop, args=(audited(s, tenant, product), part, barrier, results)
        )
        for s, part in zip(both, parts, strict=True)
    ]
    for t in threads_:
        t.start()
    for t in threads_:
        t.join()
    for s in {id(s): s for s in both}.values():
        s.snapshot.close()
    return _merged(results)


def _merged(results: list[tuple[list[float], float, float]]) -> dict[str, float]:
    latencies = [x for r in results for x in r[0]]
    wall = max(r[2] for r in results) - min(r[1] for r in results)
    return summary(latencies, wall)


def _process_loop(
    home: str, tenant: str, product: str, codes: list[str], audit: bool, barrier: Any, queue: Any
) -> None:
    services = services_for(Path(home))
    call = (audited if audit else unaudited)(services, tenant, product)
    warm(call, codes)
    barrier.wait(timeout=300)
    queue.put(timed(call, codes))
    services.snapshot.close()


def two_processes(
    home: Path, tenant: str, product: str, codes: list[str], audit: bool = True
) -> dict[str, float]:
    """The API's path in 2 processes at once (2 API workers without HTTP), audited or not."""
    ctx = mp.get_context("spawn")
    barrier, queue = ctx.Barrier(2), ctx.Queue()
    procs = [
        ctx.Process(
            target=_process_loop, args=(str(home), tenant, product, half, audit, barrier, queue)
        )
        for half in (codes[0::2], codes[1::2])
    ]
    for p in procs:
        p.start()
    try:
        results = [queue.get(timeout=600) for _ in procs]
    finally:
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
    return _merged(results)
