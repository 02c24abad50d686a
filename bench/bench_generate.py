"""Time and measure `synthetic.generate.generate` for a platform of N entities.

    .venv/bin/python bench/bench_generate.py --entities 20000 [--seed 42] [--out DIR]

The generation runs alone in a spawned child process; `seconds` is its wall time measured
inside the child, `peak_rss_mib` the child's peak resident memory (`ru_maxrss` of the
reaped child, so the parent's imports do not count). Prints one JSON line with row counts
of every data table (catalog, bank and truth; system tables excluded), the store's file
size and whether the targets hold: <= 20 s up to 20,000 entities (else <= 240 s) and
<= 4 GiB peak. The store is `DIR/platform.duckdb` with `--out` (kept for later benches),
otherwise a temporary file deleted afterwards.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path

from catalog import schema
from synthetic.config import SynthConfig
from synthetic.generate import generate

TARGET_PEAK_MIB = 4096


def _child(path: Path, entities: int, seed: int, reply: Connection) -> None:
    """Generate the store and send back (seconds, row counts)."""
    start = time.perf_counter()
    summary = generate(path, SynthConfig(entities=entities, seed=seed))
    reply.send((time.perf_counter() - start, summary.rows))


def measure(path: Path, entities: int, seed: int) -> dict[str, object]:
    """Run one generation in a spawned child and collect its figures."""
    ctx = mp.get_context("spawn")
    receive, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_child, args=(path, entities, seed, send))
    child.start()
    seconds, rows = receive.recv()
    child.join()
    if child.exitcode != 0:
        raise SystemExit(f"generation failed with exit code {child.exitcode}")
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # KiB on Linux
    data = {t.name: rows[t.name] for t in schema.ALL_TABLES if t.kind != "system"}
    target_seconds = 20 if entities <= 20_000 else 240
    return {
        "bench": "generate",
        "entities": entities,
        "seconds": round(seconds, 2),
        "peak_rss_mib": round(peak_mib, 1),
        "rows_total": sum(data.values()),
        "rows_per_table": data,
        "store_mib": round(path.stat().st_size / 2**20, 1),
        "target_seconds": target_seconds,
        "target_peak_mib": TARGET_PEAK_MIB,
        "meets_target": seconds <= target_seconds and peak_mib <= TARGET_PEAK_MIB,
    }


def main() -> None:
    """Parse arguments, run the benchmark, print the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entities", type=int, required=True, help="entities to generate")
    parser.add_argument("--seed", type=int, default=42, help="generator seed")
    parser.add_argument("--out", type=Path, help="keep the store in this directory")
    args = parser.parse_args()
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        print(json.dumps(measure(args.out / "platform.duckdb", args.entities, args.seed)))
        return
    with tempfile.TemporaryDirectory(prefix="precredit-bench-") as tmp:
        print(json.dumps(measure(Path(tmp) / "platform.duckdb", args.entities, args.seed)))


if __name__ == "__main__":
    main()
