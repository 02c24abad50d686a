"""Single pre-approvals answered in groups (serving.coalesce) against each on its own.

    python bench/bench_coalesce.py --home DIR [--database-url URL] [--rounds 2] [--seconds 10]
                                   [--connections 8,16] [--variants off,1,2,4] [--workers 2]

One code base, one demo home (and service database), several settings of the lane, alternated
round by round so drift on a shared machine falls on all: `off` answers each request on its
own thread-pool hop (`PRECREDIT_COALESCE_MAX_ITEMS=1`, the code before groups), `N` answers
waiting requests in groups, at most N groups at a time per worker
(`PRECREDIT_COALESCE_RUNNING=N`). Each run is `bench_audit_ab`'s: `precredit serve --workers
2`, warm-up, drain, wrk on POST /v1/preapprovals rotating among 2,000 codes (every request
audited), the server's CPU per answer from /proc, and here also the mean group size one
worker reports on /metrics. Prints one JSON object: every run, medians per variant and
connection count, and each variant's answers/s and CPU per answer against `off`'s.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

import bench_audit_ab as ab
import inprocess

from serving.config import Settings


def _variant_env(base: dict[str, str], variant: str) -> dict[str, str]:
    if variant == "off":
        return base | {"PRECREDIT_COALESCE_MAX_ITEMS": "1"}
    return base | {"PRECREDIT_COALESCE_RUNNING": variant}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--database-url")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", default="8,16")
    parser.add_argument("--variants", default="off,1,2,4")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--log", type=Path, default=Path("/tmp/bench_coalesce.log"))
    args = parser.parse_args()
    base = ab._env(None, args.home, args.database_url)
    for name in ("PRECREDIT_COALESCE_MAX_ITEMS", "PRECREDIT_COALESCE_RUNNING"):
        base.pop(name, None)
    key = ab._key(base)
    codes = inprocess.sample_codes(Settings(home=args.home).store, 2_000, args.seed)
    variants = args.variants.split(",")
    connections = [int(c) for c in args.connections.split(",")]
    runs: dict[str, list[Any]] = {}
    for _ in range(args.rounds):
        for count in connections:
            args.connections = count
            for variant in variants:
                figures = ab._run(_variant_env(base, variant), key, codes, args)
                runs.setdefault(f"{variant}@{count}", []).append(figures)
    medians = ab.medians_of(runs)
    against_off = {
        name: {
            "throughput": round(m["ok_per_second"] / off["ok_per_second"], 3),
            "cpu_efficiency": round(
                off["server_cpu_ms_per_request"] / m["server_cpu_ms_per_request"], 3
            ),
        }
        for name, m in medians.items()
        if (off := medians.get(f"off@{name.split('@')[1]}")) is not None
    }
    print(
        json.dumps(
            {
                "bench": "coalesce",
                "database": "postgresql" if args.database_url else "sqlite",
                "workers": args.workers,
                "seconds": args.seconds,
                "runs": runs,
                "medians": medians,
                "against_off": against_off,
                "load_average": os.getloadavg(),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
