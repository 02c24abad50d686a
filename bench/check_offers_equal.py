"""Check that two versions of the code make byte-identical offers, events and exports.

    python bench/check_offers_equal.py --store PATH --home DIR --base DIR [--entities N]

`--base` is a checkout of the code to compare with (`git archive <commit> | tar -x -C DIR`).
The same scenario runs once with each code, in its own process (`PYTHONPATH`), on a copy of
the store: a first run for a bank with a webhook endpoint, then a run after some entities'
records changed (new court listings, less tax paid: offers revoked, changed and created),
both at fixed times. Offer and event ids are UUID4: both processes draw them from the same
seeded generator, so equal code makes equal ids. Compares every offers row, every outbox
event row, the run's state and every export file (Parquet, CSV, JSON Lines, manifest) byte for byte. Prints
one JSON object; exits 1 when anything differs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

T0 = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)
CHANGED = 400  # entities whose records change before the second run


def scenario(store_path: Path, home: Path, out: Path, entities: int | None) -> None:
    """Both runs of the scenario with the code on `sys.path`, into `out`."""
    rng = random.Random(42)
    uuid.uuid4 = lambda: uuid.UUID(int=rng.getrandbits(128), version=4)  # seeded ids

    import duckdb

    from features import snapshot
    from serving.config import Settings
    from serving.db import make_engine, repo, session_factory, sqlite_url, upgrade
    from serving.db import webhooks as outbox
    from serving.decision.model_store import ModelHolder
    from serving.offer.run import OfferOptions, OfferSources, run_offers

    store_copy = out / "platform.duckdb"
    shutil.copy(store_path, store_copy)
    database = sqlite_url(out / "service.db")
    upgrade(database)
    sessions = session_factory(make_engine(database))
    with sessions.begin() as session:
        repo.create_tenant(session, "bank_a", "Bank A")
        hook = outbox.EndpointOptions(now=T0 - dt.timedelta(days=1), allow_private=True)
        outbox.add_endpoint(session, "bank_a", "http://127.0.0.1:9/hook", options=hook)
    settings = Settings(home=home)
    models = ModelHolder(settings.mlflow_uri, settings.artifact_root, out / "models")
    with duckdb.connect(str(store_copy)) as con:
        if entities is not None:
            con.execute(
                f"DELETE FROM {snapshot.TABLE} WHERE uscc NOT IN "
                f"(SELECT uscc FROM {snapshot.TABLE} ORDER BY uscc LIMIT {int(entities)})"
            )
        for day, changes in ((0, False), (3, True)):
            if changes:  # every 7th code: listed; every 11th: a tenth of its tax
                con.execute(
                    f"UPDATE {snapshot.TABLE} SET court_in_force = 1 WHERE uscc IN (SELECT uscc "
                    f"FROM {snapshot.TABLE} ORDER BY uscc LIMIT {CHANGED}) AND hash(uscc) % 7 = 0"
                )
                con.execute(
                    f"UPDATE {snapshot.TABLE} SET tax_paid_cny_12m = tax_paid_cny_12m / 10, "
                    f"tax_paid_cny_24m = tax_paid_cny_24m / 10 WHERE uscc IN (SELECT uscc FROM "
                    f"{snapshot.TABLE} ORDER BY uscc LIMIT {CHANGED}) AND hash(uscc) % 11 = 0"
                )
            now = T0 + dt.timedelta(days=day)
            options = OfferOptions(out_dir=out / "exports", now=now, write_rows=700)
            run = run_offers(OfferSources(sessions, models, con), "bank_a", options)
            (out / f"run{day}.json").write_text(
                json.dumps(run.to_dict() | {"seconds": None, "exports": None}, sort_keys=True)
            )


def _digests(out: Path) -> dict[str, Any]:
    """What the scenario left: offers rows, event bodies, export files, run summaries."""
    with sqlite3.connect(out / "service.db") as db:
        offers = db.execute("SELECT * FROM offers ORDER BY id").fetchall()
        events = db.execute("SELECT * FROM outbox_events ORDER BY id").fetchall()
        states = db.execute("SELECT * FROM offer_states ORDER BY tenant_id").fetchall()
    files = sorted((out / "exports").iterdir())
    return {
        "offers": len(offers),
        "offers_sha256": hashlib.sha256(repr(offers).encode()).hexdigest(),
        "events": len(events),
        "events_sha256": hashlib.sha256(repr(events).encode()).hexdigest(),
        "state_sha256": hashlib.sha256(repr(states).encode()).hexdigest(),
        "files": {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in files},
        "runs": [json.loads((out / f"run{d}.json").read_text()) for d in (0, 3)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, required=True, help="store with its snapshot")
    parser.add_argument("--home", type=Path, required=True, help="home with a platform model")
    parser.add_argument("--base", type=Path, required=True, help="the other code's checkout")
    parser.add_argument("--entities", type=int, help="first N entities of the snapshot")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        scenario(args.store, args.home, args.child, args.entities)
        return
    scratch = Path(tempfile.mkdtemp(prefix="precredit-check-offers-"))
    here = Path(__file__).resolve().parents[1]
    results = {}
    try:
        for name, code in (("base", args.base.resolve()), ("new", here)):
            out = scratch / name
            out.mkdir()
            command = [sys.executable, str(Path(__file__).resolve()), "--child", str(out)]
            command += ["--store", str(args.store), "--home", str(args.home)]
            command += ["--base", str(args.base)]
            command += [] if args.entities is None else ["--entities", str(args.entities)]
            env = os.environ | {"PYTHONPATH": str(code)}
            subprocess.run(command, env=env, check=True, cwd=code, capture_output=True)
            results[name] = _digests(out)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    same = results["base"] == results["new"]
    runs = results["new"]["runs"]
    print(json.dumps({"check": "offers_equal", "identical": same, "runs": runs} | results))
    sys.exit(0 if same else 1)


if __name__ == "__main__":
    main()
