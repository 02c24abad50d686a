"""Where Spark's CPU goes: per run, and per JVM thread kind (tasks, JIT compilers, GC, other).

    python bench/bench_spark_cpu.py --files DIR [--runs 2] [--java-options "-XX:-TieredCompilation"]
    python bench/bench_spark_cpu.py --files DIR --conf spark.sql.codegen.wholeStage=false

DIR holds the platform's Parquet tables (`precredit platform export --format parquet`). One
`local[2]` session (`features.spark.session`, the JVM options appended) computes every
entity's features as of 2025-12-31 `--runs` times; each run prints its wall and CPU seconds
(this process plus the Spark JVM) and the CPU each kind of JVM thread spent during it (read
from /proc/<jvm>/task/*/stat). The JVM's total comes from /proc/<jvm>/stat, which keeps the
CPU of threads that ended: executor task threads idle for 60 s end, so in a slow run part of
the task CPU shows up as `ended` (threads that ended during the run, whatever their kind), not
as `tasks`. `--conf KEY=VALUE` (repeatable) sets a Spark setting for the session. Prints one
JSON object.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import json
import os
import re
import time
from pathlib import Path

from features import spark

AS_OF = dt.date(2025, 12, 31)
KINDS = {"Executor task": "tasks", "C1 Compiler": "jit", "C2 Compiler": "jit", "GC Thread": "gc"}


def _jvm_pid() -> int:
    from pyspark import SparkContext

    return int(SparkContext._gateway.proc.pid)  # type: ignore[union-attr]


def _threads(pid: int) -> dict[str, tuple[str, float]]:
    """Per live JVM thread (by id): its kind and CPU seconds so far."""
    out: dict[str, tuple[str, float]] = {}
    for stat in Path(f"/proc/{pid}/task").glob("*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # the thread ended meanwhile
            continue
        name, fields = text[text.index("(") + 1 : text.rindex(")")], text.rsplit(")", 1)[1].split()
        kind = next((k for p, k in KINDS.items() if name.startswith(p)), None)
        if kind is None:
            kind = "gc" if re.match(r"G1 ", name) else "other"
        out[stat.parent.name] = (
            kind,
            (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"),
        )
    return out


def by_kind(
    before: dict[str, tuple[str, float]], after: dict[str, tuple[str, float]], jvm: float
) -> dict[str, float]:
    """CPU per thread kind between two samples; `ended`: threads that ended in between."""
    out: collections.Counter[str] = collections.Counter()
    for tid, (kind, cpu) in after.items():
        out[kind] += cpu - before.get(tid, (kind, 0.0))[1]
    out["ended"] = jvm - sum(out.values())
    return {k: round(v, 1) for k, v in out.items()}


def _process_cpu(pid: int) -> float:
    """CPU seconds so far of the whole JVM, threads that ended included."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=Path, required=True)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--java-options", default="")
    parser.add_argument("--conf", action="append", default=[], help="KEY=VALUE, repeatable")
    args = parser.parse_args()
    conf = spark._conf
    extra = args.java_options
    settings = dict(item.split("=", 1) for item in args.conf)

    def _with_options(*a):  # type: ignore[no-untyped-def]
        c = conf(*a)
        c["spark.driver.extraJavaOptions"] += f" {extra}"
        return c | settings

    spark._conf = _with_options  # type: ignore[assignment]
    result: dict[str, object] = {
        "bench": "spark_cpu",
        "load": os.getloadavg(),
        "java": extra,
        "conf": settings,
    }
    start = time.perf_counter()
    session = spark.session()
    result["session_start_seconds"] = round(time.perf_counter() - start, 2)
    pid, runs = _jvm_pid(), []
    try:
        for _ in range(args.runs):
            before, jvm0 = _threads(pid), _process_cpu(pid)
            cpu0, t0 = time.process_time(), time.perf_counter()
            spark.compute(session, args.files, AS_OF)
            threads, jvm = _threads(pid), _process_cpu(pid) - jvm0
            wall, py_cpu = time.perf_counter() - t0, time.process_time() - cpu0
            runs.append(
                {
                    "load": round(os.getloadavg()[0], 1),
                    "wall_seconds": round(wall, 1),
                    "cpu_seconds": round(py_cpu + jvm, 1),
                    "jvm_threads_cpu_seconds": by_kind(before, threads, jvm),
                }
            )
    finally:
        session.stop()
    result["runs"] = runs
    print(json.dumps(result))


if __name__ == "__main__":
    main()
