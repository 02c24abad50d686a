"""Benchmark the validation pack: `precredit validate` for a bank of a 20,000-entity platform.

    python bench/bench_validation.py [--home DIR] [--loans N]

Without `--home`, builds a demo home in a temporary directory (`precredit demo --no-serve
--entities 20000`, about a minute) and removes it afterwards. Adds the tenant `bench_bank` to
the home's service database with N realised loans (the generator's outcomes, applied for from
2022-01 to 2024-06, default 10,000), then times one pack (build, both files, MLflow logging) as
of 2025-12-31. Prints one JSON object. Target (issue 17): <= 60 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from catalog import store
from serving.config import Settings
from serving.db import make_engine, repo, session_factory, upgrade
from serving.db.outcomes import OutcomeFields, upsert_outcome
from serving.validation import build, files
from synthetic import outcomes

TARGET_SECONDS = 60.0
TENANT = "bench_bank"
AS_OF = dt.date(2025, 12, 31)
CLI = Path(sys.executable).parent / "precredit"


def _demo_home(scratch: Path) -> Path:
    home = scratch / "home"
    env = os.environ | {"PRECREDIT_HOME": str(home)}
    command = [str(CLI), "demo", "--no-serve", "--entities", "20000"]
    subprocess.run(command, env=env, check=True, capture_output=True, timeout=1800)
    return home


def _loans(settings: Settings, n: int) -> pd.DataFrame:
    """`n` realised loans to random snapshot entities (seeded)."""
    rng = np.random.default_rng(11)
    with store.connect(settings.store, read_only=True) as con:
        codes = [r[0] for r in con.execute("SELECT uscc FROM feature_snapshot").fetchall()]
        days = pd.date_range("2022-01-01", "2024-06-30", freq="D")
        loans = pd.DataFrame(
            {
                "loan_id": [f"b-{i:06d}" for i in range(n)],
                "uscc": rng.choice(codes, n),
                "application_date": days[rng.integers(0, len(days), n)].date,
                "amount_cny": 300_000.0,
            }
        )
        return outcomes.realise(con, loans, seed=11)


def _report(settings: Settings, n: int) -> Any:
    """The tenant with its loans in the service database; its session factory."""
    upgrade(settings.service_db)
    sessions = session_factory(make_engine(settings.service_db))
    frame = _loans(settings, n)
    with sessions.begin() as session:
        if repo.get_tenant(session, TENANT) is None:
            repo.create_tenant(session, TENANT, "Bench bank")
        for row in frame.itertuples():
            fields: OutcomeFields = {
                "loan_id": row.loan_id, "uscc": row.uscc,
                "application_date": row.application_date,
                "granted_amount_cny": row.granted_amount_cny,
                "drawn_amount_cny": row.drawn_amount_cny,
                "default_flag": bool(row.default_flag), "default_date": row.default_date,
                "observation_date": row.observation_date,
            }  # fmt: skip
            upsert_outcome(session, TENANT, fields)
    return sessions


def main() -> None:
    """Parse arguments, time one pack, print JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--home", type=Path)
    parser.add_argument("--loans", type=int, default=10_000)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="bench-validation-"))
    try:
        home = args.home or _demo_home(scratch)
        settings = Settings(home=home)
        sessions = _report(settings, args.loans)
        started = time.perf_counter()
        pack = build.build(settings, sessions, TENANT, AS_OF)
        built = time.perf_counter() - started
        files.write(pack, scratch / "pack", settings)
        seconds = time.perf_counter() - started
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    auc = pack.discrimination.overall.auc if pack.discrimination else None
    print(json.dumps({
        "entities": 20_000 if args.home is None else None, "loans": pack.scope.loans,
        "defaults": pack.scope.defaults, "auc": auc, "build_seconds": round(built, 1),
        "seconds": round(seconds, 1), "target_seconds": TARGET_SECONDS,
        "meets_target": seconds <= TARGET_SECONDS,
    }))  # fmt: skip


if __name__ == "__main__":
    main()
