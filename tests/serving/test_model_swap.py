"""A new champion is picked up under load without a restart and without one failed request."""

from __future__ import annotations

import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pandas as pd
import pytest
from api_fixtures import create_banks, snapshot_codes
from trained_home import build_home

from serving.app import create_app
from serving.config import Settings
from serving.db import make_engine, session_factory, sqlite_url, upgrade
from serving.http import ServerThread
from training import promotion, tracking
from training.promotion import Approval

CLIENTS = 4


@pytest.fixture(scope="module")
def swap_api(tiny_store: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    home = build_home(tiny_store, tmp_path_factory.mktemp("swap") / "home")
    url = sqlite_url(home / "service.db")
    upgrade(url)
    keys = create_banks(session_factory(make_engine(url)))
    settings = Settings(home=home, database_url=url, model_poll_seconds=0.3)
    with ServerThread(create_app(settings), name="swap-api") as server:
        yield home, server.base_url, keys.bank_a, snapshot_codes(home, 20)


def _register_again(home: Path) -> str:
    """Register the champion's artifacts as a new version and promote it (a real alias move)."""
    client = tracking.connect(f"sqlite:///{home / 'mlflow.db'}", home / "mlartifacts")
    champion = tracking.version_by_alias(client, "platform", tracking.CHAMPION)
    with tempfile.TemporaryDirectory() as tmp:
        model = tracking.load_native(client, champion.run_id, Path(tmp))
    example = pd.DataFrame([[0.0] * len(model.spec.names)], columns=list(model.spec.names))
    record = tracking.RunRecord(model, {"swap_test": 1}, {"auc": 0.5, "gate_passed": 1.0}, example)
    _, version = tracking.log_run(client, "platform", record)
    promotion.promote(client, "platform", version, Approval("test", "hot swap under load"))
    return version


def test_champion_swaps_under_load_with_zero_failed_requests(swap_api) -> None:  # type: ignore[no-untyped-def]
    home, base, key, codes = swap_api
    stop = threading.Event()
    seen: list[tuple[int, str | None]] = []
    lock = threading.Lock()

    def hammer(offset: int) -> None:
        with httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30
        ) as http:
            i = offset
            while not stop.is_set():
                r = http.post("/v1/preapprovals", json={"uscc": codes[i % len(codes)]})
                version = r.json().get("model", {}).get("version") if r.status_code == 200 else None
                with lock:
                    seen.append((r.status_code, version))
                i += 1

    workers = [threading.Thread(target=hammer, args=(n,)) for n in range(CLIENTS)]
    for worker in workers:
        worker.start()
    time.sleep(1.5)
    new_version = _register_again(home)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with lock:
            if any(v == new_version for _, v in seen[-20:]):
                break
        time.sleep(0.2)
    time.sleep(1.0)
    stop.set()
    for worker in workers:
        worker.join(timeout=30)
    statuses = Counter(status for status, _ in seen)
    versions = [v for _, v in seen]
    assert statuses == Counter({200: len(seen)}), statuses
    assert "1" in versions
    assert new_version in versions
    first_new = versions.index(new_version)
    assert set(versions[first_new + CLIENTS :]) == {
        new_version
    }  # only in-flight requests finish on v1
