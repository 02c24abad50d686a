"""uvicorn against Granian serving the same FastAPI app: audited single pre-approvals/s.

    pip install -e '.[bench]'     # Granian (not needed to run precredit)
    python bench/bench_servers.py --home DIR [--rounds 2] [--seconds 10] [--connections 16]
                                  [--workers 2]

`--home` is a demo home (`precredit demo --no-serve`). Rounds alternate uvicorn (`precredit
serve`, the production server: its protocol adds the JSON refusals, header limits and
timeouts) and Granian (`--interface asgi --factory serving.app:create_app`, the same app and
workers, uvloop), so drift on a shared machine falls on both. Each run warms the workers, then
wrk POSTs /v1/preapprovals rotating among 2,000 codes; the server processes' CPU seconds give
CPU per answer. Prints one JSON object: every run, medians, Granian/uvicorn ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import http_load
import inprocess

from serving.config import Settings

BIN = Path(sys.executable).parent
WARM_SECONDS, DRAIN_SECONDS = 3, 4


@contextmanager
def granian(home: Path, workers: int, log: Path) -> Iterator[tuple[str, int]]:
    """Granian serving the app on a free port until ready; yields its URL and process group."""
    port = http_load.free_port()
    command = [str(BIN / "granian"), "--interface", "asgi", "--factory", "--loop", "uvloop",
               "--workers", str(workers), "--host", "127.0.0.1", "--port", str(port),
               "--log-level", "warning", "serving.app:create_app"]  # fmt: skip
    env = os.environ | {"PRECREDIT_HOME": str(home), "PRECREDIT_MODEL_POLL_SECONDS": "0"}
    with log.open("ab") as out:
        proc = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while not http_load.ready(url):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"Granian did not get ready; see {log}")
            time.sleep(0.25)
        http_load.settle(proc.pid)
        yield url, proc.pid
    finally:
        http_load.stop(proc)


def _measure(url: str, cpu: Any, script: str, args: argparse.Namespace) -> dict[str, Any]:
    target = f"{url}/v1/preapprovals"
    http_load.wrk(target, script, args.connections, WARM_SECONDS)
    time.sleep(DRAIN_SECONDS)
    before = cpu()
    figures = http_load.wrk(target, script, args.connections, args.seconds)
    figures["server_cpu_ms_per_request"] = round(
        1000 * (cpu() - before) / max(figures["requests"], 1), 3
    )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--log", type=Path, default=Path("/tmp/bench_servers.log"))
    args = parser.parse_args()
    if shutil.which("granian", path=str(BIN)) is None:
        sys.exit("bench_servers: Granian is not installed: pip install -e '.[bench]'")
    os.environ["PRECREDIT_HOME"] = str(args.home)
    key = subprocess.run(
        [str(BIN / "precredit"), "banks", "key", "demo_bank"],
        capture_output=True, text=True, check=True, timeout=300,
    ).stdout.strip().splitlines()[-1]  # fmt: skip
    codes = inprocess.sample_codes(Settings(home=args.home).store, 2_000, 7)
    script = http_load.post_script(key, http_load.single_bodies(codes))
    runs: dict[str, list[dict[str, Any]]] = {"uvicorn": [], "granian": []}
    for _ in range(args.rounds):
        with http_load.serving(BIN / "precredit", args.home, args.workers, args.log) as url:
            runs["uvicorn"].append(
                _measure(url, lambda: http_load.server_cpu_seconds(url), script, args)
            )
        with granian(args.home, args.workers, args.log) as (url, group):
            runs["granian"].append(
                _measure(url, lambda: http_load.group_cpu_seconds(group), script, args)
            )
    medians = {
        name: {
            key: statistics.median(r[key] for r in rs)
            for key in ("ok_per_second", "p99_ms", "server_cpu_ms_per_request")
        }
        | {"non_2xx": sum(r["non_2xx"] + r["failed"] for r in rs)}
        for name, rs in runs.items()
    }
    uv, gr = medians["uvicorn"], medians["granian"]
    print(
        json.dumps(
            {
                "bench": "servers",
                "workers": args.workers,
                "connections": args.connections,
                "seconds": args.seconds,
                "runs": runs,
                "medians": medians,
                "granian_vs_uvicorn_throughput": round(
                    gr["ok_per_second"] / uv["ok_per_second"], 3
                ),
                "uvicorn_vs_granian_cpu_per_request": round(
                    gr["server_cpu_ms_per_request"] / uv["server_cpu_ms_per_request"], 3
                ),
                "machine": "shared: 2 cores, other sessions' work runs meanwhile",
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    with suppress(KeyboardInterrupt):
        main()
