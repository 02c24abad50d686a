"""Where a 2-worker server's CPU goes under wrk: CPU per answer by process and thread, py-spy stacks.

    python bench/profile_server.py --home HOME --out DIR [--seconds 15] [--workers 2]
                                   [--connections 16] [--spy none|all|gil]

`precredit serve` on HOME (a demo home; its demo_bank scored without consent) is loaded with
wrk on POST /v1/preapprovals rotating among 2,000 codes. Meanwhile the CPU (user and system)
of every server process, and of each worker's event-loop thread against its other threads, is
read from /proc and divided by the answers. With `--spy all|gil` every process is sampled by
py-spy (`pip install -e '.[bench]'`; `gil`: only the thread holding the GIL) at 200 Hz into
`DIR/<pid>.txt` (raw stacks: one line per stack and its count). py-spy samples wall time, so
a thread preempted while it holds the GIL keeps being counted: read its shares together with
the /proc figures, which it leaves unchanged (`--nonblocking`). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import http_load
import inprocess

from serving.config import Settings

CLI = Path(sys.executable).parent / "precredit"
SPY = Path(sys.executable).parent / "py-spy"


def _cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([str(CLI), *args], env=env, capture_output=True, text=True, check=False)
    lines = done.stdout.strip().splitlines()
    return lines[-1].strip() if lines else ""


def _ticks(pid: str) -> dict[str, tuple[str, int]]:
    """Each thread of `pid`: its name and user+system clock ticks so far."""
    out = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "stat").read_text().rpartition(")")[2].split()
            out[task.name] = (
                (task / "comm").read_text().strip(),
                int(fields[11]) + int(fields[12]),
            )
        except OSError:
            continue
    return out


def _spies(pids: list[str], args: argparse.Namespace) -> list[subprocess.Popen[bytes]]:
    if args.spy == "none":
        return []
    common = ["record", "--rate", "200", "--format", "raw", "--threads", "--nonblocking"]
    common += ["--duration", str(args.seconds)] + (["--gil"] if args.spy == "gil" else [])
    return [
        subprocess.Popen(
            [str(SPY), *common, "--pid", pid, "-o", str(args.out / f"{pid}.txt")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for pid in pids
    ]


def _per_answer(pids: list[str], before: dict[str, Any], requests: int) -> dict[str, Any]:
    """CPU ms per answer by process (its command) and, in a worker, event loop against threads."""
    tick_ms = 1000 / os.sysconf("SC_CLK_TCK")
    out: dict[str, Any] = {}
    for pid in pids:
        by_thread: dict[str, float] = {}
        for tid, (name, ticks) in _ticks(pid).items():
            key = "main" if tid == pid else name
            spent = ticks - before[pid].get(tid, (name, 0))[1]
            by_thread[key] = by_thread.get(key, 0.0) + spent * tick_ms / max(requests, 1)
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:80]
        used = {k: round(v, 3) for k, v in by_thread.items() if v > 0}
        if used:
            out[pid] = {"command": command, "cpu_ms_per_answer": used}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--spy", choices=("none", "all", "gil"), default="gil")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ) | {"PRECREDIT_HOME": str(args.home)}
    os.environ.update(env)  # http_load.serving passes os.environ to the server
    _cli(env, "banks", "add", "demo_bank", "--no-require-consent")
    key = _cli(env, "banks", "key", "demo_bank")
    codes = inprocess.sample_codes(Settings(home=args.home).store, 2_000, 7)
    script = http_load.post_script(key, http_load.single_bodies(codes))
    with http_load.serving(CLI, args.home, args.workers, args.out / "server.log") as url:
        target = f"{url}/v1/preapprovals"
        http_load.wrk(target, script, args.connections, 3)  # warm
        time.sleep(5)
        group = str(http_load._GROUPS[url])
        found = subprocess.run(["pgrep", "-g", group], capture_output=True, text=True, check=False)
        pids = found.stdout.split()
        before = {pid: _ticks(pid) for pid in pids}
        spies = _spies(pids, args)
        figures = http_load.wrk(target, script, args.connections, max(args.seconds - 2, 1))
        after = _per_answer(pids, before, figures["requests"])
        for spy in spies:
            spy.wait()
    print(json.dumps({"bench": "profile_server", "wrk": figures, "processes": after}, indent=1))


if __name__ == "__main__":
    main()
