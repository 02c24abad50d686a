"""Benchmark the operator console: seconds to answer each page and each `/v1/platform` section.

    python bench/bench_console.py --home HOME [--runs 3]

HOME is a demo home (`PRECREDIT_HOME=HOME precredit demo --no-serve`): its store is read, and
an operator key is added to its service database. The app is served by uvicorn in a thread
(`serving.http.ServerThread`); each page is asked for once to warm up, then `--runs` times.
Prints one JSON object: entities in the store, and per page and section the median and
maximum seconds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import httpx

from catalog import store
from serving.app import create_app
from serving.config import Settings
from serving.console import session
from serving.console.figures import SECTIONS
from serving.db import make_engine, repo, session_factory
from serving.http import Limits, ServerThread


def _timed(client: httpx.Client, path: str, runs: int) -> dict[str, float]:
    assert client.get(path).status_code == 200, path  # warm-up
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        answer = client.get(path)
        seconds.append(time.perf_counter() - started)
        assert answer.status_code == 200, path
    return {"median": round(statistics.median(seconds), 3), "max": round(max(seconds), 3)}


def _operator(settings: Settings) -> str:
    engine = make_engine(settings.service_db)
    with session_factory(engine)() as db:
        repo.ensure_platform(db)
        key = repo.issue_key(db, "platform", ["admin", "operator"], name="bench")
        db.commit()
    engine.dispose()
    return key


def main() -> None:
    """Serve the home, sign in, time every page and section, print JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    settings = Settings(home=args.home, model_poll_seconds=0)
    with store.connect(settings.store, read_only=True) as con:
        [(entities,)] = con.execute("SELECT count(DISTINCT uscc) FROM entities").fetchall()
    key = _operator(settings)
    server = ServerThread(create_app(settings), name="bench-console", limits=Limits.of(settings))
    server.start()
    try:
        with httpx.Client(base_url=server.base_url, timeout=300) as client:
            token = client.get("/console/sign-in").cookies[session.CSRF_COOKIE]
            client.post("/console/sign-in", data={"key": key, "csrf": token})
            pages = {name: _timed(client, f"/console/{name}", args.runs) for name in SECTIONS}
            client.cookies.clear()
            client.headers["Authorization"] = f"Bearer {key}"
            api = {name: _timed(client, f"/v1/platform/{name}", args.runs) for name in SECTIONS}
    finally:
        server.stop()
    print(json.dumps({"entities": int(entities), "runs": args.runs, "pages": pages, "api": api}))


if __name__ == "__main__":
    main()
