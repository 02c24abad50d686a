"""CPU per audited single pre-approval through the ASGI app, in process, without a server.

    python bench/bench_asgi_path.py --home DIR [--requests 2000] [--concurrency 16]
                                    [--rounds 3] [--profile FILE]

Builds the API (`create_app`) on a demo home, runs its lifespan, and sends POST
/v1/preapprovals for varied codes of demo_bank straight into the ASGI callable,
`--concurrency` at a time (asyncio tasks, like wrk's connections), with every answer audited.
No HTTP parser or socket: what is left is the middleware stack, FastAPI's routing,
dependencies and body handling, the thread-pool hop, the decision and the group commit.
`cpu_ms_per_request` is the process's CPU (every thread: event loop, thread pool, audit
writer) per answer: on a shared machine the figure least moved by other load. Rounds
alternate `stack` (`fast_preapprovals=False`: the FastAPI route) and `fast` (the ASGI lane of
`serving.fastlane`), each its own app on the same home, so both meet the same drift.
`--profile FILE` writes a cProfile of one `fast` round's event-loop thread. Prints one JSON
object.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from contextlib import suppress
from pathlib import Path
from typing import Any

import inprocess

from serving.app import create_app
from serving.config import Settings

CLI = Path(sys.executable).parent / "precredit"
KINDS = {"MainThread": "event_loop", "AnyIO": "thread_pool", "audit-writer": "audit_writer"}


def _key(home: Path) -> str:
    env = os.environ | {"PRECREDIT_HOME": str(home)}
    done = subprocess.run(
        [str(CLI), "banks", "key", "demo_bank"], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip().splitlines()[-1].strip()


def _thread_cpu() -> dict[str, float]:
    """CPU seconds of this process's threads so far, summed by kind (from /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    names = {t.native_id: t.name for t in threading.enumerate()}
    kinds: dict[str, float] = {}
    for task in Path("/proc/self/task").iterdir():
        with suppress(OSError):
            name = names.get(int(task.name), "other")
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            kind = KINDS.get(name.split(" ")[0], "other")
            kinds[kind] = kinds.get(kind, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return kinds


def _scope(key: str, body: bytes) -> dict[str, Any]:
    headers = [
        (b"host", b"127.0.0.1"),
        (b"authorization", f"Bearer {key}".encode()),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/preapprovals",
        "raw_path": b"/v1/preapprovals",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }


async def _one(app: Any, key: str, body: bytes) -> int:
    sent = False
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(_scope(key, body), receive, send)
    return status


async def _load(app: Any, key: str, bodies: list[bytes], concurrency: int) -> list[int]:
    queue = iter(bodies)
    statuses: list[int] = []

    async def client() -> None:
        for body in queue:
            statuses.append(await _one(app, key, body))

    await asyncio.gather(*(client() for _ in range(concurrency)))
    return statuses


async def _round(
    settings: Settings, key: str, bodies: list[bytes], args: argparse.Namespace, profile: Any
) -> dict[str, Any]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        app.state.services.metrics.decision  # noqa: B018 - built
        await _load(app, key, bodies[:200], args.concurrency)  # warm
        cpu, wall, threads = time.process_time(), time.perf_counter(), _thread_cpu()
        if profile is not None:
            profile.enable()
        statuses = await _load(app, key, bodies, args.concurrency)
        if profile is not None:
            profile.disable()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        after = _thread_cpu()
    ok = sum(s == 200 for s in statuses)
    by_thread = {
        k: round(1000 * (v - threads.get(k, 0.0)) / max(ok, 1), 3) for k, v in after.items()
    }
    return {
        "ok": ok,
        "failed": len(statuses) - ok,
        "per_second": round(ok / wall, 1),
        "cpu_ms_per_request": round(1000 * cpu / max(ok, 1), 3),
        "cpu_ms_per_request_by_thread": by_thread,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--requests", type=int, default=2_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--profile", type=Path)
    args = parser.parse_args()
    key = _key(args.home)
    codes = inprocess.sample_codes(Settings(home=args.home).store, args.requests, args.seed)
    bodies = [json.dumps({"uscc": c}).encode() for c in codes]
    variants = {
        name: Settings(home=args.home, model_poll_seconds=0, fast_preapprovals=name == "fast")
        for name in ("stack", "fast")
    }
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in variants}
    profile = cProfile.Profile() if args.profile else None
    for index in range(args.rounds):
        for name, settings in variants.items():
            chosen = profile if name == "fast" and index == 0 else None
            runs[name].append(asyncio.run(_round(settings, key, bodies, args, chosen)))
    if profile is not None and args.profile:
        profile.dump_stats(str(args.profile))
    medians = {
        name: {
            field: statistics.median(r[field] for r in rs)
            for field in ("per_second", "cpu_ms_per_request")
        }
        for name, rs in runs.items()
    }
    print(
        json.dumps(
            {
                "bench": "asgi_path",
                "requests": len(bodies),
                "concurrency": args.concurrency,
                "runs": runs,
                "medians": medians,
                "stack_vs_fast_cpu": round(
                    medians["stack"]["cpu_ms_per_request"] / medians["fast"]["cpu_ms_per_request"],
                    3,
                ),
                "load_average": os.getloadavg(),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
