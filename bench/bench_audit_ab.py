"""What the audit hash chain costs: audited single pre-approvals/s, base code against this code.

    python bench/bench_audit_ab.py --base-src DIR --base-home DIR --new-home DIR
                                   [--rounds 3] [--seconds 10] [--connections 16] [--workers 2]
                                   [--base-database-url URL --new-database-url URL]

`--base-src` is a checkout of the code before the chain (`git archive <commit> | tar -x`),
served through PYTHONPATH by this virtualenv's `precredit`; each variant has its own home
(copies of one demo home; a SQLite service database or its own PostgreSQL database). Rounds
alternate base, new, base, new... so drift on a shared machine falls on both. Each run starts
`precredit serve --workers N`, warms every worker, waits for the queue to drain and runs wrk on
POST /v1/preapprovals rotating among 2,000 codes (every request audited), and counts the CPU
seconds the server's processes used meanwhile. Prints one JSON object: every run, the medians
per variant, new/base throughput and base/new CPU per request (the ratio least moved by other
load on a shared machine). Needs `wrk` on PATH.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from contextlib import suppress
from pathlib import Path
from typing import Any

import http_load
import inprocess

from serving.config import Settings

CLI = Path(sys.executable).parent / "precredit"
DRAIN_SECONDS = 6


def _env(src: Path | None, home: Path, database_url: str | None) -> dict[str, str]:
    env = dict(os.environ) | {"PRECREDIT_HOME": str(home)}
    env.pop("PYTHONPATH", None)
    env.pop("PRECREDIT_DATABASE_URL", None)
    if src is not None:
        env["PYTHONPATH"] = str(src)
    if database_url:
        env["PRECREDIT_DATABASE_URL"] = database_url
    return env


def _cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [str(CLI), *args], env=env, capture_output=True, text=True, timeout=600, check=True
    )
    return done.stdout.strip().splitlines()[-1].strip()


def _key(env: dict[str, str]) -> str:
    """A fresh key of demo_bank (registered first on an empty database)."""
    with suppress(subprocess.CalledProcessError):  # no consents there: not required
        _cli(env, "banks", "add", "demo_bank", "--no-require-consent")
    return _cli(env, "banks", "key", "demo_bank")


def _run(env: dict[str, str], key: str, codes: list[str], args: argparse.Namespace) -> Any:
    script = http_load.post_script(key, http_load.single_bodies(codes))
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)  # http_load.serving passes os.environ to the server
    try:
        with http_load.serving(CLI, Path(env["PRECREDIT_HOME"]), args.workers, args.log) as url:
            http_load.wrk(f"{url}/v1/preapprovals", script, args.connections, 3)  # warm
            time.sleep(DRAIN_SECONDS)
            target = f"{url}/v1/preapprovals"
            cpu = http_load.server_cpu_seconds(url)
            database = http_load.named_cpu_seconds("postgres")
            figures = http_load.wrk(target, script, args.connections, args.seconds)
            cpu = http_load.server_cpu_seconds(url) - cpu
            database = http_load.named_cpu_seconds("postgres") - database
            # CPU per answer: what the code costs, far less sensitive than req/s to other load
            figures["server_cpu_ms_per_request"] = round(
                1000 * cpu / max(figures["requests"], 1), 3
            )
            # PostgreSQL's backends (0 on SQLite): the other share of the same two cores
            figures["database_cpu_ms_per_request"] = round(
                1000 * database / max(figures["requests"], 1), 3
            )
            figures["mean_group_size"] = http_load.mean_group_size(url)
            return figures
    finally:
        os.environ.clear()
        os.environ.update(saved)


def medians_of(runs: dict[str, list[Any]]) -> dict[str, dict[str, float]]:
    """Per variant: the medians of its runs' figures, and its failed requests summed."""
    figures = ("ok_per_second", "p99_ms", "server_cpu_ms_per_request",
               "database_cpu_ms_per_request")  # fmt: skip
    return {
        name: {f: statistics.median(r[f] for r in rs) for f in figures}
        | {
            "mean_group_size": statistics.median(r["mean_group_size"] or 1.0 for r in rs),
            "failed": sum(r["failed"] for r in rs),
        }
        for name, rs in runs.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-src", type=Path, required=True)
    parser.add_argument("--base-home", type=Path, required=True)
    parser.add_argument("--new-home", type=Path, required=True)
    parser.add_argument("--base-database-url")
    parser.add_argument("--new-database-url")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--log", type=Path, default=Path("/tmp/bench_audit_ab.log"))
    args = parser.parse_args()
    envs = {
        "base": _env(args.base_src, args.base_home, args.base_database_url),
        "new": _env(None, args.new_home, args.new_database_url),
    }
    keys = {name: _key(env) for name, env in envs.items()}
    codes = inprocess.sample_codes(Settings(home=args.new_home).store, 2_000, args.seed)
    runs: dict[str, list[Any]] = {"base": [], "new": []}
    for _ in range(args.rounds):
        for name in ("base", "new"):
            runs[name].append(_run(envs[name], keys[name], codes, args))
    medians = medians_of(runs)
    ratio = medians["new"]["ok_per_second"] / medians["base"]["ok_per_second"]
    print(
        json.dumps(
            {
                "bench": "audit_ab",
                "database": "postgresql" if args.new_database_url else "sqlite",
                "workers": args.workers,
                "connections": args.connections,
                "seconds": args.seconds,
                "runs": runs,
                "medians": medians,
                "new_vs_base_throughput": round(ratio, 3),
                # base/new CPU per request: the throughput ratio a quiet machine would show
                "new_vs_base_cpu_efficiency": round(
                    medians["base"]["server_cpu_ms_per_request"]
                    / medians["new"]["server_cpu_ms_per_request"],
                    3,
                ),
                "machine": "shared: 2 cores, other sessions' work runs meanwhile",
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
