"""Time `precredit data check` (catalog.quality.check_store) on a platform store.

    .venv/bin/python bench/bench_data_check.py --store PATH [--repeat N]
    .venv/bin/python bench/bench_data_check.py --entities 300000 [--store PATH] [--seed S]

With `--entities`, a synthetic store is generated first (synthetic) unless `--store`
already exists; generation is not timed. Prints one JSON line:
{"bench": "data_check", "entities": N, "rows_total": M, "seconds": s}, the fastest of
`--repeat` runs. The store is opened read-only and left unchanged.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from catalog import quality, schema, store


def main() -> None:
    """Parse arguments, find or generate the store, time the check, print the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, help="platform store (DuckDB file)")
    parser.add_argument("--entities", type=int, help="generate a store of this many entities")
    parser.add_argument("--seed", type=int, default=42, help="generator seed")
    parser.add_argument("--repeat", type=int, default=1, help="runs; the fastest is reported")
    args = parser.parse_args()
    if args.store is None and args.entities is None:
        parser.error("give --store PATH, --entities N, or both")
    with tempfile.TemporaryDirectory(prefix="precredit-bench-") as tmp:
        path = args.store or Path(tmp) / "platform.duckdb"
        if args.entities is not None and not path.exists():
            _generate(path, args.entities, args.seed)
        print(json.dumps(_time(path, args.repeat)))


def _generate(path: Path, entities: int, seed: int) -> None:
    """Write a synthetic platform store (imported here: only this mode needs the generator)."""
    from synthetic.config import SynthConfig
    from synthetic.generate import generate

    generate(path, SynthConfig(entities=entities, seed=seed))


def _time(path: Path, repeat: int) -> dict[str, object]:
    """The fastest of `repeat` runs of `check_store`, with the store's size."""
    with store.connect(path, read_only=True) as con:
        timings = []
        for _ in range(max(1, repeat)):
            start = time.perf_counter()
            quality.check_store(con)
            timings.append(time.perf_counter() - start)
        entities = int(store.scalar(con, "SELECT count(DISTINCT uscc) FROM entities"))
        counts = store.row_counts(con)
    rows_total = sum(counts[name] for name in schema.IMPORTABLE)
    return {
        "bench": "data_check",
        "entities": entities,
        "rows_total": rows_total,
        "seconds": round(min(timings), 3),
    }


if __name__ == "__main__":
    main()
