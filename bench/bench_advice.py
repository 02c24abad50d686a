"""Benchmark improvement advice: latency of one entity's advice with the served platform model.

    python bench/bench_advice.py --home HOME [--entities 40]

HOME is a trained precredit home (`make demo`'s `.precredit/`, or `tests/trained_home.py`):
its store (read only) and its MLflow registry. Entities with a published general or serious
penalty, an abnormal-operations entry, social-insurance arrears or fewer than 8 returns in the
last 8 quarters are advised one after the other (one warm-up first). Prints one JSON object:
entities, actions per entity and by kind, median and maximum seconds per advice.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

from catalog import store
from features import snapshot
from serving.advice import advise
from serving.decision.model_store import ModelHolder

CANDIDATES = (
    "SELECT DISTINCT uscc FROM abnormal_operations UNION "
    "SELECT DISTINCT uscc FROM penalties WHERE severity <> 'minor' UNION "
    "SELECT DISTINCT uscc FROM social_insurance WHERE arrears_cny > 0 UNION "
    "SELECT uscc FROM tax_payments GROUP BY uscc HAVING count(*) < 8 ORDER BY 1 LIMIT ?"
)


def main() -> None:
    """Parse arguments, advise, print JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--entities", type=int, default=40)
    args = parser.parse_args()
    path = args.home / "platform.duckdb"
    cache = Path(tempfile.mkdtemp(prefix="advice-models-"))
    served = ModelHolder(
        f"sqlite:///{args.home / 'mlflow.db'}", args.home / "mlartifacts", cache
    ).get("platform")
    with store.connect(path, read_only=True) as con:
        as_of = snapshot.snapshot_date(con)
        codes = [r[0] for r in con.execute(CANDIDATES, [args.entities]).fetchall()]
    advise(served, path, codes[0], as_of)  # warm-up
    seconds, actions, kinds = [], [], Counter[str]()
    for code in codes:
        started = time.perf_counter()
        answer = advise(served, path, code, as_of)
        seconds.append(time.perf_counter() - started)
        actions.append(len(answer["actions"]))
        kinds.update(a["kind"] for a in answer["actions"])
    print(json.dumps({
        "entities": len(codes),
        "actions_per_entity": round(statistics.mean(actions), 2),
        "actions_by_kind": dict(sorted(kinds.items())),
        "median_seconds": round(statistics.median(seconds), 3),
        "max_seconds": round(max(seconds), 3),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
