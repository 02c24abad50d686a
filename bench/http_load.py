"""HTTP load for bench_api: `precredit serve` as a subprocess and wrk runs against it.

Everything binds and connects on 127.0.0.1 only. Each server runs in its own process group
(uvicorn's workers included) and is stopped by that group's id on exit, normal or not.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,'
    .. '"write":%d,"status":%d,"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""
_POST = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %(key)s"
local bodies = {%(bodies)s}
local i = 0
request = function()
  i = i %% #bodies + 1
  return wrk.format(nil, nil, nil, bodies[i])
end
"""


def free_port() -> int:
    """An unused TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def ready(url: str) -> bool:
    with suppress(OSError), urllib.request.urlopen(f"{url}/readyz", timeout=2) as response:
        return bool(response.status == 200)
    return False


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group, SIGKILL it after 15 s."""
    for sig, wait in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 5.0)):
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        with suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=wait)
            return


_GROUPS: dict[str, int] = {}  # a running server's URL -> its process group


def server_cpu_seconds(url: str) -> float:
    """CPU seconds (user + system) every process of the server at `url` has used so far."""
    return group_cpu_seconds(_GROUPS[url])


def group_cpu_seconds(pgid: int) -> float:
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with suppress(OSError, IndexError, ValueError):
            fields = stat.read_text().rpartition(")")[2].split()
            if int(fields[2]) == pgid:  # fields: state ppid pgrp ... utime(11) stime(12)
                ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def named_cpu_seconds(name: str) -> float:
    """CPU seconds (user + system) every running process called `name` has used so far (e.g.
    "postgres": the database server's backends, outside the server's process group)."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with suppress(OSError, IndexError, ValueError):
            text = stat.read_text()
            if text.partition("(")[2].rpartition(")")[0] == name:
                fields = text.rpartition(")")[2].split()
                ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def mean_group_size(url: str) -> float | None:
    """Mean size of the groups of single pre-approvals one worker answered together
    (`precredit_preapproval_group_size` on its /metrics; None when it has none)."""
    samples = {}
    with urllib.request.urlopen(f"{url}/metrics", timeout=30) as response:
        text = response.read().decode()
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name.startswith("precredit_preapproval_group_size_"):
            samples[name] = float(value)
    count = samples.get("precredit_preapproval_group_size_count", 0.0)
    return round(samples["precredit_preapproval_group_size_sum"] / count, 2) if count else None


def server_rss_kb(url: str) -> dict[int, int]:
    """Resident memory (kB, VmRSS) of every process of the server at `url`, by pid."""
    return _group_rss_kb(_GROUPS[url])


def _group_rss_kb(pgid: int) -> dict[int, int]:
    found: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with suppress(OSError, IndexError, ValueError):
            if int(stat.read_text().rpartition(")")[2].split()[2]) != pgid:
                continue
            for line in (stat.parent / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    found[int(stat.parent.name)] = int(line.split()[1])
    return found


def settle(pgid: int, limit_s: float = 90.0) -> None:
    """Wait until the server's processes are idle (every worker done starting)."""
    deadline, before = time.monotonic() + limit_s, group_cpu_seconds(pgid)
    while time.monotonic() < deadline:
        time.sleep(1.0)
        now = group_cpu_seconds(pgid)
        if now - before < 0.05:
            return
        before = now


@contextmanager
def serving(cli: Path, home: Path, workers: int, log: Path) -> Iterator[str]:
    """`precredit serve --workers N` on a free port until ready (<= 180 s); yields its URL."""
    port = free_port()
    env = os.environ | {"PRECREDIT_HOME": str(home), "PRECREDIT_MODEL_POLL_SECONDS": "0"}
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [str(cli), "serve", "--host", HOST, "--port", str(port), "--workers", str(workers)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://{HOST}:{port}"
    try:
        deadline = time.monotonic() + 180
        while not ready(url):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server with {workers} worker(s) did not get ready; see {log}")
            time.sleep(0.25)
        settle(proc.pid)
        _GROUPS[url] = proc.pid
        yield url
    finally:
        _GROUPS.pop(url, None)
        stop(proc)


def post_script(key: str, bodies: list[str]) -> str:
    """A wrk script POSTing `bodies` in turn with the bearer key, reporting JSON at the end."""
    lua_bodies = ",".join(f"[==[{body}]==]" for body in bodies)
    return _POST % {"key": key, "bodies": lua_bodies} + _DONE


def single_bodies(codes: list[str]) -> list[str]:
    """One request body per code."""
    return [json.dumps({"uscc": c, "requested_amount_cny": 500000}) for c in codes]


def batch_bodies(codes: list[str], size: int, count: int) -> list[str]:
    """`count` batch bodies of `size` codes each, windows moving through `codes`."""
    out = []
    for b in range(count):
        items = [
            {"uscc": codes[(b * size + i) % len(codes)], "requested_amount_cny": 500000}
            for i in range(size)
        ]
        out.append(json.dumps({"items": items}))
    return out


def wrk(
    url: str, script: str, connections: int, seconds: int, timeout_s: int = 10, threads: int = 1
) -> dict[str, Any]:
    """Run wrk (closed loop: `connections` requests in flight) and return its figures."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    try:
        done = subprocess.run(
            [
                "wrk",
                "-t",
                str(threads),
                "-c",
                str(connections),
                "-d",
                f"{seconds}s",
                "--timeout",
                f"{timeout_s}s",
                "-s",
                f.name,
                url,
            ],
            capture_output=True,
            text=True,
            timeout=seconds + timeout_s + 60,
            check=True,
        )
    finally:
        Path(f.name).unlink()
    line = next(x for x in done.stdout.splitlines() if x.startswith("WRKJSON "))
    return _figures(json.loads(line.removeprefix("WRKJSON ")), connections)


def _figures(raw: dict[str, int], connections: int) -> dict[str, Any]:
    seconds = raw["duration_us"] / 1e6
    failed = raw["connect"] + raw["read"] + raw["write"] + raw["timeout"] + raw["status"]
    return {
        "connections": connections,
        "seconds": round(seconds, 1),
        "requests": raw["requests"],
        "failed": failed,
        "non_2xx": raw["status"],
        "timeouts": raw["timeout"],
        "ok_per_second": round((raw["requests"] - raw["status"]) / seconds, 1),
        "p50_ms": raw["p50_us"] / 1e3,
        "p90_ms": raw["p90_us"] / 1e3,
        "p99_ms": raw["p99_us"] / 1e3,
        "max_ms": raw["max_us"] / 1e3,
    }


def get_script() -> str:
    """A wrk script for plain GETs that reports JSON at the end."""
    return _DONE
