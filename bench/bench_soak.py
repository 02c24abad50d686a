"""A long-run soak: mixed traffic at a share of the measured capacity on PostgreSQL, N workers.

    python bench/bench_soak.py --home DIR [--admin-url postgresql://postgres@127.0.0.1:5432/test]
                               [--minutes 10] [--workers 2] [--load 0.8] [--seed 7]
                               [--capacity-seconds 15] [--keep]

Copies the demo home's store and model registry (`platform.duckdb`, `mlflow.db`,
`mlartifacts/`, `model-cache/`) to a scratch directory (the home is only read), creates a fresh
PostgreSQL database `precredit_soak_<pid>` through `--admin-url` (dropped at the end unless
`--keep`), and sets it up through the real CLI: a bank (scopes score, outcomes; requiring consent,
the default) answering the SME financing platform's requests, and the platform's client key. Then
`precredit serve --workers N`, and each of the 2,000 codes' consent recorded through the API:

1. capacity: closed loops (16 in flight) for `--capacity-seconds` each, with the same asyncio
   client as the soak: single pre-approvals, then the soak's mix -> C ok/s (`--capacity-of`
   picks which: the mix by default, as 80% of the single rate is more than the mix's capacity);
2. soak: an open loop at `load x C` requests/s for `--minutes` (sends at fixed intervals, never
   waiting on answers; at most 256 in flight, beyond that a request is counted
   `client_overloaded` and not sent). Mix (seeded): 70% single pre-approvals, 10% batches of 5,
   10% outcomes (unique loan ids, an Idempotency-Key each), 5% watchlist adds, 5% financing
   requests (platform key);
3. each minute: RSS of every server process, p50/p99 latency of the requests sent in that
   minute, ok / 4xx / 5xx counts, achieved rate;
4. at the end: every acknowledged write looked up in PostgreSQL (decision ids, outcome loan ids,
   watched codes, financing request ids).

Prints one JSON object; a markdown summary goes to stderr. Verdict: no 5xx, no 4xx (every request
of the mix is well-formed and allowed), memory growth (last minute's RSS against the first
minute's) <= 10%, every acknowledged write present.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import http_load
import httpx
import inprocess
import psycopg
import soak_plan
from psycopg import sql
from sqlalchemy.engine import make_url

from catalog.schema import DATA_SCOPES
from serving.config import Settings

CLI = Path(sys.executable).parent / "precredit"
COPIED = ("platform.duckdb", "mlflow.db", "mlartifacts", "model-cache")
BANK, PLATFORM = "soak_bank", "soak_platform"
CAPACITY_IN_FLIGHT = 16
MAX_IN_FLIGHT = 256
TIMEOUT_S = 30.0
MEMORY_GROWTH_MAX_PCT = 10.0
CAPACITY_SEED_OFFSET = 1_000  # the mixed capacity run's own loan ids, apart from the soak's


@dataclass
class Acked:
    """Writes the server acknowledged (2xx), to look up in the database at the end."""

    decisions: set[str] = field(default_factory=set)
    loans: set[str] = field(default_factory=set)
    watched: set[str] = field(default_factory=set)
    requests: set[str] = field(default_factory=set)

    def add(self, planned: soak_plan.Planned, answer: Any) -> None:
        """Note what the 2xx answer to `planned` acknowledged."""
        if planned.kind == "preapproval":
            self.decisions.add(answer["decision_id"])
        elif planned.kind == "batch":
            self.decisions.update(
                r["result"]["decision_id"] for r in answer["results"] if r["status"] == 200
            )
        elif planned.kind == "outcome":
            self.loans.update(r["loan_id"] for r in answer["results"])
        elif planned.kind == "watch":
            self.watched.update(str(c) for c in planned.body["codes"])  # type: ignore[attr-defined]
        else:
            self.requests.add(answer["request_id"])
            self.decisions.update(a["decision_id"] for a in answer["answers"] if a["decision_id"])


# --- setup ---------------------------------------------------------------------------------------


def _scratch_home(source: Path, scratch: Path) -> Path:
    home = scratch / "home"
    home.mkdir()
    for name in COPIED:
        src = source / name
        if src.is_dir():
            shutil.copytree(src, home / name)
        elif src.exists():
            shutil.copy2(src, home / name)
    return home


@contextmanager
def _database(admin_url: str, keep: bool) -> Iterator[str]:
    """A fresh database `precredit_soak_<pid>`; yields its URL, drops it after unless `keep`."""
    name = f"precredit_soak_{os.getpid()}"
    with psycopg.connect(admin_url, autocommit=True) as con:
        con.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        con.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        if not keep:
            with psycopg.connect(admin_url, autocommit=True) as con:
                con.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )


def _cli(*args: str) -> str:
    """Run `precredit ARGS` with this process's environment; its last output line."""
    done = subprocess.run(
        [str(CLI), *args], capture_output=True, text=True, timeout=600, check=True
    )
    return done.stdout.strip().splitlines()[-1].strip()


def _keys() -> tuple[str, str]:
    """The bank's key (score, outcomes; answers financing requests) and the platform's key."""
    bank_key = _cli("banks", "add", BANK)
    _cli("banks", "set", BANK, "--financing")
    return bank_key, _cli("financing-platform", "add", PLATFORM)


# --- load ---------------------------------------------------------------------------------------


def _headers(planned: soak_plan.Planned, bank_key: str, platform_key: str) -> dict[str, str]:
    key = platform_key if planned.kind == "financing" else bank_key
    headers = {"Authorization": f"Bearer {key}"}
    if planned.idempotency_key:
        headers["Idempotency-Key"] = planned.idempotency_key
    return headers


def _singles(codes: list[str]) -> Iterator[soak_plan.Planned]:
    """Single pre-approvals cycling through `codes`."""
    index = 0
    while True:
        body: soak_plan.Json = {"uscc": codes[index % len(codes)], "requested_amount_cny": 500_000}
        yield soak_plan.Planned(index, "preapproval", body)
        index += 1


async def _consents(
    client: httpx.AsyncClient, bank_key: str, codes: list[str], today: dt.date
) -> None:
    """The bank requires consent (the default): each code's consent to pre-approval scoring,
    every data scope, recorded through the API before any load."""
    headers = {"Authorization": f"Bearer {bank_key}"}
    pending = iter(codes)

    async def record() -> None:
        for code in pending:
            body = {
                "uscc": code,
                "scope": sorted(DATA_SCOPES),
                "purpose": "preapproval",
                "starts_on": (today - dt.timedelta(days=1)).isoformat(),
                "expires_on": (today + dt.timedelta(days=365)).isoformat(),
                "evidence_sha256": hashlib.sha256(f"soak consent {code}".encode()).hexdigest(),
            }
            answer = await client.post("/v1/consents", json=body, headers=headers)
            answer.raise_for_status()

    await asyncio.gather(*(record() for _ in range(CAPACITY_IN_FLIGHT)))


async def _closed_loop(
    client: httpx.AsyncClient,
    requests: Iterator[soak_plan.Planned],
    keys: tuple[str, str],
    seconds: float,
    acked: Acked,
) -> dict[str, float]:
    """CAPACITY_IN_FLIGHT loops, each sending its next request once answered: ok answers/s."""
    ok, failed, deadline = 0, 0, time.monotonic() + seconds

    async def loop() -> None:
        nonlocal ok, failed
        for planned in requests:  # one iterator shared by every loop
            if time.monotonic() >= deadline:
                return
            try:
                response = await client.post(
                    planned.path, json=planned.body, headers=_headers(planned, *keys)
                )
            except httpx.HTTPError:
                failed += 1
                continue
            if 200 <= response.status_code < 300:
                ok += 1
                acked.add(planned, response.json())
            else:
                failed += 1

    started = time.monotonic()
    await asyncio.gather(*(loop() for _ in range(CAPACITY_IN_FLIGHT)))
    wall = time.monotonic() - started
    return {"seconds": round(wall, 1), "ok": ok, "failed": failed, "ok_per_second": ok / wall}


class Soak:
    """The open-loop soak against one server: schedule, answers, per-minute rows."""

    def __init__(
        self, client: httpx.AsyncClient, url: str, keys: tuple[str, str], acked: Acked
    ) -> None:
        self.client, self.url, self.keys, self.acked = client, url, keys, acked
        self.in_flight = 0
        self.minutes: list[soak_plan.Minute] = []
        self.tasks: set[asyncio.Task[None]] = set()

    async def run(self, requests: Iterator[soak_plan.Planned], rate: float, minutes: int) -> Any:
        """Send at `rate`/s for `minutes`; a row per minute (server RSS sampled at its end)."""
        self.minutes = [soak_plan.Minute() for _ in range(minutes)]
        rss: list[dict[int, int]] = []
        start = time.monotonic()
        sampler = asyncio.create_task(self._sample(start, minutes, rss))
        for offset, planned in zip(
            soak_plan.send_times(rate, minutes * 60.0), requests, strict=False
        ):
            delay = start + offset - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            minute = self.minutes[min(int(offset // 60), minutes - 1)]
            if self.in_flight >= MAX_IN_FLIGHT:
                minute.client_overloaded += 1
                continue
            minute.sent += 1
            task = asyncio.create_task(self._send(planned, minute, start + offset))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        await sampler
        await asyncio.gather(*list(self.tasks))  # every answer in before the rows are made
        return [m.figures(n + 1, 60.0, rss[n]) for n, m in enumerate(self.minutes)]

    async def _sample(self, start: float, minutes: int, rss: list[dict[int, int]]) -> None:
        for number in range(1, minutes + 1):
            await asyncio.sleep(max(0.0, start + 60.0 * number - time.monotonic()))
            rss.append(http_load.server_rss_kb(self.url))
            m = self.minutes[number - 1]
            print(
                f"soak: minute {number}: sent {m.sent} ok {m.ok} 4xx {m.client_4xx} "
                f"5xx {m.server_5xx} errors {m.transport_errors} overloaded "
                f"{m.client_overloaded} rss {sum(rss[-1].values()) / 1024:.1f} MB "
                f"statuses {m.statuses}",
                file=sys.stderr,
                flush=True,
            )

    async def _send(self, planned: soak_plan.Planned, minute: soak_plan.Minute, due: float) -> None:
        self.in_flight += 1
        sent = time.monotonic()
        status: int | None = None
        try:
            response = await self.client.post(
                planned.path, json=planned.body, headers=_headers(planned, *self.keys)
            )
            status = response.status_code
            if 200 <= status < 300:
                self.acked.add(planned, response.json())
        except httpx.HTTPError:
            status = None
        finally:
            self.in_flight -= 1
        minute.record(planned.kind, status, time.monotonic() - sent, sent - due)


# --- verification -------------------------------------------------------------------------------


def _missing(database_url: str, acked: Acked) -> dict[str, dict[str, int]]:
    """Acknowledged writes looked up in the service database: how many, how many are missing."""
    queries = {
        "decisions": ("SELECT id FROM decisions", acked.decisions),
        "outcomes": ("SELECT loan_id FROM outcomes", acked.loans),
        "watchlist": ("SELECT uscc FROM watchlist", acked.watched),
        "financing_requests": ("SELECT id FROM financing_requests", acked.requests),
    }
    found: dict[str, dict[str, int]] = {}
    with psycopg.connect(database_url) as con:
        for table, (query, wanted) in queries.items():
            stored = {str(row[0]) for row in con.execute(query)}
            found[table] = {
                "acknowledged": len(wanted),
                "stored": len(stored),
                "missing": len(wanted - stored),
            }
    return found


# --- report -------------------------------------------------------------------------------------


def _markdown(result: dict[str, Any]) -> str:
    lines = [
        f"capacity (closed loop, {CAPACITY_IN_FLIGHT} in flight): single pre-approvals "
        f"{result['capacity']['single']['ok_per_second']:.1f} ok/s, the mix "
        f"{result['capacity']['mix']['ok_per_second']:.1f} ok/s -> soak at {result['load']} x "
        f"{result['capacity_of']} = "
        f"{result['rate_per_second']:.1f} requests/s for {result['minutes']} min",
        "",
        "| minute | sent/s | ok/s | 4xx | 5xx | errors | overloaded | p50 ms | p99 ms | RSS MB |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {m['minute']} | {m['sent_per_second']} | {m['ok_per_second']} | {m['4xx']} | "
        f"{m['5xx']} | {m['transport_errors']} | {m['client_overloaded']} | {m['p50_ms']} | "
        f"{m['p99_ms']} | {m['rss_mb']} |"
        for m in result["per_minute"]
    ]
    lines += ["", f"verdict: {json.dumps(result['verdict'])}"]
    return "\n".join(lines)


def _verdict(rows: list[dict[str, object]], writes: dict[str, dict[str, int]]) -> Any:
    growth = soak_plan.memory_growth_pct(rows)
    checks = {
        "no_5xx": all(row["5xx"] == 0 for row in rows),
        # every request of the mix is well-formed and allowed: a 4xx means the set-up is wrong
        "no_4xx": all(row["4xx"] == 0 for row in rows),
        "no_transport_errors": all(row["transport_errors"] == 0 for row in rows),
        "memory_growth_pct": growth,
        "memory_growth_within_10pct": growth is not None and growth <= MEMORY_GROWTH_MAX_PCT,
        "all_writes_present": all(w["missing"] == 0 for w in writes.values()),
    }
    checks["all"] = (
        checks["no_5xx"]
        and checks["no_4xx"]
        and checks["memory_growth_within_10pct"]
        and checks["all_writes_present"]
    )
    return checks


async def _drive(url: str, keys: tuple[str, str], codes: list[str], args: Any) -> Any:
    limits = httpx.Limits(max_connections=MAX_IN_FLIGHT, max_keepalive_connections=MAX_IN_FLIGHT)
    timeout = httpx.Timeout(TIMEOUT_S)
    acked = Acked()
    today = dt.datetime.now(dt.UTC).date()
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=timeout) as client:
        await _consents(client, keys[0], codes, today)
        await _closed_loop(client, _singles(codes), keys, 3.0, acked)  # warm every worker
        capacity = {
            "single": await _closed_loop(
                client, _singles(codes), keys, args.capacity_seconds, acked
            ),
            "mix": await _closed_loop(
                client,
                soak_plan.plan(codes, args.seed + CAPACITY_SEED_OFFSET, today),
                keys,
                args.capacity_seconds,
                acked,
            ),
        }
        rate = args.load * capacity[args.capacity_of]["ok_per_second"]
        print(f"soak: capacity {json.dumps(capacity)}; rate {rate:.1f}/s", file=sys.stderr)
        soak = Soak(client, url, keys, acked)
        rows = await soak.run(soak_plan.plan(codes, args.seed, today), rate, args.minutes)
        return capacity, rate, rows, acked


def _run(args: argparse.Namespace, scratch: Path) -> dict[str, Any]:
    home = _scratch_home(args.home, scratch)
    with _database(args.admin_url, args.keep) as database_url:
        os.environ["PRECREDIT_HOME"] = str(home)  # http_load.serving passes os.environ on
        os.environ["PRECREDIT_DATABASE_URL"] = database_url
        keys = _keys()
        codes = inprocess.sample_codes(Settings(home=home).store, 2_000, args.seed)
        with http_load.serving(CLI, home, args.workers, args.log) as url:
            capacity, rate, rows, acked = asyncio.run(_drive(url, keys, codes, args))
        writes = _missing(database_url, acked)
    return {
        "bench": "soak",
        "database": "postgresql",
        "workers": args.workers,
        "minutes": args.minutes,
        "load": args.load,
        "seed": args.seed,
        "mix": soak_plan.MIX,
        "capacity_of": args.capacity_of,
        "capacity": {
            name: c | {"ok_per_second": round(c["ok_per_second"], 1)}
            for name, c in capacity.items()
        },
        "rate_per_second": round(rate, 1),
        "per_minute": rows,
        "writes": writes,
        "verdict": _verdict(rows, writes),
        "machine": "shared: 2 cores, other sessions' work runs meanwhile; client on the same host",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True, help="a demo home (only read)")
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--minutes", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--load", type=float, default=0.8)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--capacity-seconds", type=float, default=15.0)
    parser.add_argument(
        "--capacity-of",
        choices=("mix", "single"),
        default="mix",
        help="the rate --load applies to: the mix's closed-loop capacity (default) or single "
        "pre-approvals' (the mix costs more per request: a batch is 5 decisions)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the soak's database")
    parser.add_argument("--log", type=Path, default=Path("/tmp/bench_soak.log"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="precredit-soak-") as scratch:
        result = _run(args, Path(scratch))
    print(json.dumps(result, indent=1))
    print(_markdown(result), file=sys.stderr)


if __name__ == "__main__":
    main()
