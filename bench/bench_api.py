"""Benchmark the scoring API ("Speed"): in-process cost, HTTP rate and latency, batches.

    python bench/bench_api.py [--home DIR [--key KEY]] [--requests 2000] [--seconds 20]
                              [--database-url postgresql://postgres@127.0.0.1/precredit_bench]

Without `--home`, builds a demo home in a temporary directory (`precredit demo --no-serve
--entities 20000`, about 45 s) and removes it afterwards. With `--home`, issues a key for
`demo_bank` unless `--key` is given. The bench writes audit rows into that home's service
database: every decision it asks for is recorded, as the API records it.

Measured, one after the other on this machine (nothing else of the bench runs meanwhile):
  1. in process, single thread, `--requests` varied codes: decide only, lookup + decide,
     and the full audited path (`decisions.score` + commit per call): p50/p99, rate;
  2. in process, the audited path on 2 cores: 2 threads with own services, 2 and 16 threads
     sharing one (a worker's thread pool, whose audit rows share commits), 2 processes (two
     workers without HTTP), and 2 processes without the audit (the model's own ceiling);
  3. over HTTP for 1 and 2 uvicorn workers (`precredit serve`): wrk at `--connections`
     for `--seconds` on GET /healthz (the framework's ceiling), POST /v1/preapprovals
     rotating among the codes (also at each `--sweep` connection count: latency at lower
     load), and last POST /v1/preapprovals/batch with `--batch-size` items (last: its ~30,000
     audit rows' write-back must not fall into the single pre-approvals' measurements).
`http_vs_inprocess_ratio` divides HTTP decisions/s (2 workers) by the best audited in-process
rate on 2 cores (all four variants are reported). The issue's p99 is "at that rate": the
verdict takes the sweep point with the lowest p99 among those reaching half the in-process
rate (closed-loop wrk: at 16 connections, latency is mostly queueing behind the others).
`goal` is issue 15's: at least 900 answers/s at a p99 of at most 25 ms at one connection count
of the 2-worker sweep (`met`, and the fastest point within the p99: `--sweep 8,12` is worth
giving). `foreign_cpu_seconds` is the CPU other processes of the machine used during each phase
(approximate, from /proc/stat minus this bench's own rusage): compare runs only when it is
near zero. Needs `wrk` on PATH. Prints one JSON object; runs about 5 min with `--home`,
5.5-7 min when it builds the demo home first.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from contextlib import suppress
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import http_load
import inprocess
from sqlalchemy import make_url, text

from serving.config import Settings
from serving.db import make_engine

TARGETS = {"in_process_p99_ms_max": 5.0, "http_vs_inprocess_ratio_min": 0.5,
           "http_2_workers_p99_ms_max": 50.0}  # fmt: skip
# issue 15's goal: audited single pre-approvals over HTTP, 2 workers, at one sweep point
GOAL = {"per_second_min": 900.0, "p99_ms_max": 25.0}
CLI = Path(sys.executable).parent / "precredit"
T = TypeVar("T")
AUDITED_TWO_CORE = (
    "two_threads_own_services",
    "two_threads_shared_services",
    "sixteen_threads_shared_services",
    "two_processes",
)
DRAIN_SECONDS = 6  # > the service's SQLite busy_timeout (5 s)


def _cli(home: Path, *args: str, timeout: int = 900) -> str:
    env = os.environ | {"PRECREDIT_HOME": str(home)}
    done = subprocess.run(
        [str(CLI), *args], env=env, capture_output=True, text=True, timeout=timeout, check=True
    )
    return done.stdout.strip().splitlines()[-1].strip()


def _busy_cpu_seconds() -> float:
    """CPU time all processes of the machine used so far (from /proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    busy = sum(fields[:8]) - fields[3] - fields[4]  # all but idle and iowait
    return busy / os.sysconf("SC_CLK_TCK")


def _own_cpu_seconds() -> float:
    """CPU time of this bench, its servers, workers and wrk (all waited for)."""
    own = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return sum(r.ru_utime + r.ru_stime for r in own)


def _foreign_cpu(phase: Callable[[], T]) -> tuple[T, float]:
    """Run `phase`; also return the CPU seconds other processes of the machine used meanwhile."""
    busy, own = _busy_cpu_seconds(), _own_cpu_seconds()
    result = phase()
    return result, round(_busy_cpu_seconds() - busy - (_own_cpu_seconds() - own), 1)


def _tracebacks(log: Path) -> int:
    return log.read_text(errors="replace").count("Traceback") if log.exists() else 0


def _server_errors(log: Path) -> dict[str, int]:
    """The servers' most frequent logged exception lines, with their counts."""
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    return dict(Counter(x for x in lines if "Error" in x).most_common(3))


def _audit_rows(home: Path) -> int:
    engine = make_engine(Settings(home=home).service_db)
    try:
        with engine.connect() as con:
            return int(con.execute(text("SELECT count(*) FROM decisions")).scalar_one())
    finally:
        engine.dispose()


def _in_process(home: Path, tenant: str, codes: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    services = inprocess.services_for(home)
    served = services.models.get(tenant)
    product = served.model.policy_.product
    model = {
        "name": served.name,
        "version": served.version,
        "product": product,
        "trees": served.model.classifier_.best_iteration_,
        "features": len(served.model.spec.names),
    }
    try:
        single = inprocess.single_thread(services, tenant, product, codes)
    finally:
        services.snapshot.close()
    single["audit_write_p50_ms_derived"] = round(
        single["with_audit_write"]["p50_ms"] - single["lookup_and_decide"]["p50_ms"], 3
    )
    return model, {
        "single_thread": single,
        "two_threads_own_services": inprocess.two_threads(
            home, tenant, product, codes, shared=False
        ),
        "two_threads_shared_services": inprocess.two_threads(
            home, tenant, product, codes, shared=True
        ),
        "sixteen_threads_shared_services": inprocess.two_threads(
            home, tenant, product, codes, shared=True, threads=16
        ),
        "two_processes": inprocess.two_processes(home, tenant, product, codes),
        "two_processes_no_audit": inprocess.two_processes(
            home, tenant, product, codes, audit=False
        ),
    }


def _http(
    home: Path, key: str, codes: list[str], workers: int, args: argparse.Namespace, log: Path
) -> dict[str, Any]:
    single = http_load.post_script(key, http_load.single_bodies(codes))
    batch = http_load.post_script(key, http_load.batch_bodies(codes, args.batch_size, 20))
    conns, secs = args.connections, args.seconds
    with http_load.serving(CLI, home, workers, log) as url:
        out = {"healthz": http_load.wrk(f"{url}/healthz", http_load.get_script(), conns, 10)}
        http_load.wrk(f"{url}/v1/preapprovals", single, conns, 3)  # warm every worker
        time.sleep(DRAIN_SECONDS)
        out["preapproval"] = _measured(home, log, url, "", single, conns, secs, 10)
        out["preapproval_by_connections"] = {}
        for n in sorted(set(args.sweep) - {conns}):  # latency at lower load: fewer in flight
            out["preapproval_by_connections"][str(n)] = _measured(
                home, log, url, "", single, n, secs, 10
            )
        # batches last: 100 decisions a request write ~30,000 audit rows in 10 s, and on
        # PostgreSQL their write-back (WAL, dirty buffers) went on into the next measurements
        out["batch"] = _measured(home, log, url, "/batch", batch, 2 * workers, secs, 120)
        out["preapproval_by_connections"][str(conns)] = out["preapproval"]
    out["batch"] |= {
        "items_per_request": args.batch_size,
        "decisions_per_second": round(out["batch"]["ok_per_second"] * args.batch_size, 1),
    }
    return out


def _measured(
    home: Path, log: Path, url: str, path: str, script: str, n: int, secs: int, timeout: int
) -> dict[str, Any]:
    """wrk on POST /v1/preapprovals{path}, then the audit rows and server tracebacks it added."""
    rows, errors = _audit_rows(home), _tracebacks(log)
    out = http_load.wrk(f"{url}/v1/preapprovals{path}", script, n, secs, timeout)
    time.sleep(DRAIN_SECONDS)  # requests still queued when wrk stopped finish or fail
    return out | {
        "audit_rows_added": _audit_rows(home) - rows,
        "server_tracebacks": _tracebacks(log) - errors,
    }


def _operating_point(runs: dict[str, dict[str, Any]], rate_needed: float) -> dict[str, Any]:
    """The sweep point with the lowest p99 among those reaching `rate_needed` (else the fastest)."""
    fast = [r for r in runs.values() if r["ok_per_second"] >= rate_needed]
    if fast:
        return min(fast, key=lambda r: float(r["p99_ms"]))
    return max(runs.values(), key=lambda r: float(r["ok_per_second"]))


def _verdict(inproc: dict[str, Any], http: dict[str, Any]) -> dict[str, Any]:
    one = inproc["single_thread"]
    two_core = max(inproc[k]["per_second"] for k in AUDITED_TWO_CORE)
    needed = TARGETS["http_vs_inprocess_ratio_min"] * two_core
    two_workers = _operating_point(http["2_workers"]["preapproval_by_connections"], needed)
    rate = two_workers["ok_per_second"]
    ratios = {
        "http_vs_inprocess_ratio": round(rate / two_core, 3),
        "denominator": f"best audited in-process rate on 2 cores ({', '.join(AUDITED_TWO_CORE)})",
        "operating_point_connections": two_workers["connections"],
        "http_2w_vs_inprocess_no_audit_two_processes": round(
            rate / inproc["two_processes_no_audit"]["per_second"], 3
        ),
        "http_2w_vs_inprocess_single_thread": round(
            rate / one["with_audit_write"]["per_second"], 3
        ),
        "http_2w_vs_two_threads_own_services": round(
            rate / inproc["two_threads_own_services"]["per_second"], 3
        ),
        "http_2w_vs_two_processes": round(rate / inproc["two_processes"]["per_second"], 3),
        "http_2w_vs_healthz_2w": round(rate / http["2_workers"]["healthz"]["ok_per_second"], 4),
        "http_1w_vs_inprocess_single_thread": round(
            http["1_worker"]["preapproval"]["ok_per_second"]
            / one["with_audit_write"]["per_second"],
            3,
        ),
    }
    meets = {
        # the in-process figure: snapshot lookup + PD + SHAP + limit (no audit write)
        "in_process_p99": one["lookup_and_decide"]["p99_ms"] <= TARGETS["in_process_p99_ms_max"],
        "http_vs_inprocess_ratio": ratios["http_vs_inprocess_ratio"]
        >= TARGETS["http_vs_inprocess_ratio_min"],
        "http_2_workers_p99": two_workers["p99_ms"] <= TARGETS["http_2_workers_p99_ms_max"],
        "http_no_failed_requests": all(
            h[k]["failed"] == 0 for h in http.values() for k in ("preapproval", "batch")
        ),
    }
    sweep = http["2_workers"]["preapproval_by_connections"]
    at_goal = [
        r
        for r in sweep.values()
        if r["ok_per_second"] >= GOAL["per_second_min"] and r["p99_ms"] <= GOAL["p99_ms_max"]
    ]
    best = max(at_goal or sweep.values(), key=lambda r: float(r["ok_per_second"]))
    return {
        "ratios": ratios,
        "targets": TARGETS,
        "meets_target": meets | {"all": all(meets.values())},
        "goal": GOAL
        | {
            "met": bool(at_goal),
            # the fastest sweep point within the goal's p99 (else the fastest of all)
            "point": {k: best[k] for k in ("connections", "ok_per_second", "p99_ms")},
        },
    }


def _home(args: argparse.Namespace, scratch: Path) -> tuple[Path, str, float | None]:
    if args.home is not None:
        if args.database_url and not args.key:  # a fresh service database: the bank first
            with suppress(subprocess.CalledProcessError):  # no consents there: not required
                _cli(args.home, "banks", "add", "demo_bank", "--no-require-consent")
        return args.home, args.key or _cli(args.home, "banks", "key", "demo_bank"), None
    started = time.perf_counter()
    home = scratch / "home"
    key = _cli(home, "demo", "--no-serve", "--entities", str(args.entities))
    return home, key, round(time.perf_counter() - started, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, help="an existing demo home (default: build one)")
    parser.add_argument("--key", help="API key for the home (default: a new demo_bank key)")
    parser.add_argument("--entities", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=2_000)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument(
        "--sweep",
        type=lambda v: [int(x) for x in v.split(",")],
        default=[4, 8],
        help="further connection counts for single pre-approvals (comma-separated)",
    )
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--database-url",
        help="service database for the API and the in-process "
        "runs (default: the home's SQLite), e.g. postgresql://postgres@127.0.0.1/test",
    )
    args = parser.parse_args()
    if args.database_url:
        os.environ["PRECREDIT_DATABASE_URL"] = args.database_url
    if shutil.which("wrk") is None:
        sys.exit("bench_api needs wrk on PATH (Debian: apt-get install -y wrk)")
    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))
    started, foreign = time.perf_counter(), {}  # foreign: other processes' CPU per phase
    scratch = Path(tempfile.mkdtemp(prefix="precredit-bench-api-"))
    try:
        home, key, built = _home(args, scratch)
        tenant = key[3:-41]  # pc_<tenant>_<40 random characters>
        codes = inprocess.sample_codes(Settings(home=home).store, args.requests, args.seed)
        (model, inproc), foreign["in_process"] = _foreign_cpu(
            partial(_in_process, home, tenant, codes)
        )
        http = {}
        for n, name in ((1, "1_worker"), (2, "2_workers")):
            phase = partial(_http, home, key, codes, n, args, scratch / "serve.log")
            http[name], foreign[f"http_{name}"] = _foreign_cpu(phase)
    finally:
        errors = _server_errors(scratch / "serve.log")
        shutil.rmtree(scratch, ignore_errors=True)
    print(
        json.dumps(
            {
                "bench": "api",
                "cpus": os.cpu_count(),
                "home_built_seconds": built,
                "model": model,
                "codes": len(codes),
                "in_process": inproc,
                "http": http,
                **_verdict(inproc, http),
                "service_database": make_url(Settings(home=home).service_db).get_backend_name(),
                "load_generator": "wrk 1 thread, closed loop, on the same 2 cores",
                "foreign_cpu_seconds": foreign,
                "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
                "server_errors": errors,
                "run_seconds": round(time.perf_counter() - started, 1),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
