"""Capacity curves (issue 16 §5): time and peak memory of each stage at growing platform sizes.

    python bench/bench_scale.py [--sizes 20000,100000,300000,1000000] [--dir /tmp/precredit-scale]
                                [--steps generate,features_duckdb,...] [--budget-seconds 1200]
                                [--report docs/scale.md]

Each stage (`scale_steps.STEPS`: generate, features on DuckDB and on Spark, offers on one machine
and on Spark, training in one process and on Dask) runs at each size in its own child process
(`bench_scale.py --child STEP --size N`), under `nice`. The parent samples the child's process
tree (the Spark JVM, Dask workers, Python workers included) every 0.2 s: peak resident memory
of the whole tree, and CPU seconds (user + system, each process's last sample). It records
wall seconds, those CPU seconds, the tree's peak RSS, the load average before and after, and
the child's own figures (e.g. Spark's session start apart from the query).

Resumable: every measured point is written at once to `<dir>/scale.json`; a re-run skips
points already there (`--redo` measures them again). A stage whose time, predicted from its
smaller sizes (log-log fit), exceeds `--budget-seconds` is not run at that size: the report
extrapolates it and says so. Stores live in `<dir>/<N>/` (platform.duckdb, its Parquet export
`files/`, the training frame); one demo home with a registered model in `<dir>/home/`.

`--report PATH` then writes the Markdown capacity plan and its plots (`scale_report.py`) from
the cache. Prints the cache's points as one JSON object.
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

import psutil

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import scale_fit  # noqa: E402
import scale_steps  # noqa: E402

SIZES = (20_000, 100_000, 300_000, 1_000_000)
SAMPLE_SECONDS = 0.2


def _tree(proc: psutil.Process) -> list[psutil.Process]:
    try:
        return [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return []


def _sample(proc: psutil.Process, cpu: dict[int, float]) -> int:
    """The tree's resident bytes now; each process's CPU seconds so far into `cpu`."""
    rss = 0
    for p in _tree(proc):
        try:
            with p.oneshot():
                rss += p.memory_info().rss
                times = p.cpu_times()
                cpu[p.pid] = times.user + times.system
        except psutil.Error:
            continue
    return rss


def measure(step: str, size: int, directory: Path) -> dict[str, Any]:
    """Run one stage in a child process; its wall and CPU seconds, tree peak RSS, own figures."""
    command = [sys.executable, str(Path(__file__).resolve()), "--child", step]
    command += ["--size", str(size), "--dir", str(directory)]
    load_before = os.getloadavg()
    started = time.perf_counter()
    child = subprocess.Popen(["nice", "-n", "10", *command], stdout=subprocess.PIPE, text=True)
    proc, cpu, peak = psutil.Process(child.pid), {}, 0
    while True:
        peak = max(peak, _sample(proc, cpu))
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            break
        time.sleep(SAMPLE_SECONDS)
    wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    waited = usage.ru_utime + usage.ru_stime  # the child and the descendants it waited for
    out = child.stdout.read() if child.stdout else ""
    own = json.loads(out.strip().splitlines()[-1]) if child.returncode == 0 and out.strip() else {}
    return {
        "step": step,
        "entities": size,
        "ok": child.returncode == 0,
        "exit_code": child.returncode,
        "wall_seconds": round(wall, 2),
        "cpu_seconds": round(max(waited, sum(cpu.values())), 2),
        "peak_rss_mib": round(peak / 2**20, 1),
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "detail": own,
    }


def _load(cache: Path) -> dict[str, Any]:
    return json.loads(cache.read_text()) if cache.is_file() else {"points": {}}


def _save(cache: Path, key: str, point: dict[str, Any]) -> dict[str, Any]:
    """Add one point to the cache as it is on disk now (another run may have added others)."""
    data = _load(cache)
    data["points"][key] = point
    tmp = cache.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    tmp.replace(cache)
    return data


def _predicted(data: dict[str, Any], step: str, size: int) -> float | None:
    """Wall seconds of `step` at `size` from its measured smaller sizes (None: fewer than one)."""
    points = [
        (p["entities"], p["wall_seconds"])
        for p in data["points"].values()
        if p["step"] == step and p["ok"] and p["entities"] < size
    ]
    return scale_fit.predict(points, size)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Measure every (size, step) not yet cached, within the time budget."""
    args.dir.mkdir(parents=True, exist_ok=True)
    cache = args.dir / "scale.json"
    for size in args.sizes:
        for step in args.steps:
            key, data = f"{step}@{size}", _load(cache)
            if key in data["points"] and data["points"][key]["ok"] and not args.redo:
                continue
            guess = _predicted(data, step, size)
            if guess is not None and guess > args.budget_seconds:
                print(
                    f"skip {key}: predicted {guess:.0f} s > {args.budget_seconds} s",
                    file=sys.stderr,
                )
                continue
            print(f"measuring {key} ...", file=sys.stderr, flush=True)
            point = measure(step, size, args.dir)
            _save(cache, key, point)
            print(json.dumps(point), file=sys.stderr, flush=True)
    return _load(cache)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--steps", default=",".join(scale_steps.STEPS))
    parser.add_argument("--dir", type=Path, default=Path("/tmp/precredit-scale"))
    parser.add_argument("--budget-seconds", type=float, default=1200.0)
    parser.add_argument("--redo", action="store_true", help="measure cached points again")
    parser.add_argument("--report", type=Path, help="write the capacity plan (Markdown) here")
    parser.add_argument("--child", choices=scale_steps.STEPS, help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(scale_steps.STEPS[args.child](args.size, args.dir)))
        return
    args.sizes = [int(s) for s in args.sizes.split(",")]
    args.steps = [s for s in args.steps.split(",") if s]
    unknown = sorted(set(args.steps) - set(scale_steps.STEPS))
    if unknown:
        raise SystemExit(
            f"bench_scale: unknown step {unknown[0]} (known: {', '.join(scale_steps.STEPS)})"
        )
    data = run(args)
    if args.report:
        import scale_report

        scale_report.write(data, args.report)
    print(json.dumps(data["points"], sort_keys=True))


if __name__ == "__main__":
    main()
