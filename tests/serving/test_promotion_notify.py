"""Many API hosts share PostgreSQL: a champion promoted through one reaches the others in 1 s.

Two servers on one fresh PostgreSQL database and one registry, with the registry poll off:
only the promotion's NOTIFY can tell the second server. A bank's admin promotes a version of
the bank's own model through the first; the second answers with it within a second.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import psycopg
import pytest
from api_fixtures import Keys, create_banks, pg_database, pg_missing, pg_unreachable, snapshot_codes
from trained_home import build_home

from serving.app import create_app
from serving.config import Settings
from serving.db import make_engine, session_factory, upgrade
from serving.db.notifications import CHANNEL, PromotionListener
from serving.http import ServerThread
from training import tracking

pytestmark = pytest.mark.postgres
REACH_SECONDS = 1.0


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    """A fresh PostgreSQL database for both servers."""
    reason = pg_unreachable()
    if reason is not None:
        pg_missing("127.0.0.1:5432", reason)
    with pg_database() as url:
        yield url


@pytest.fixture(scope="module")
def hosts(
    tiny_store: Path, tmp_path_factory: pytest.TempPathFactory, database: str
) -> Iterator[tuple[Path, Keys, list[str], list[str]]]:
    """The trained home, the banks' keys, codes, and the two servers' URLs (no poll)."""
    home = build_home(tiny_store, tmp_path_factory.mktemp("hosts") / "home")
    upgrade(database)
    keys = create_banks(session_factory(make_engine(database)))
    settings = Settings(home=home, database_url=database, model_poll_seconds=0)
    with (
        ServerThread(create_app(settings), name="host-1") as one,
        ServerThread(create_app(settings), name="host-2") as two,
    ):
        yield home, keys, snapshot_codes(home, 5), [one.base_url, two.base_url]


def _register_for_bank(home: Path, tenant: str) -> str:
    """The platform champion's artifacts registered as the bank's own model (gate passed)."""
    client = tracking.connect(f"sqlite:///{home / 'mlflow.db'}", home / "mlartifacts")
    champion = tracking.version_by_alias(client, "platform", tracking.CHAMPION)
    with tempfile.TemporaryDirectory() as tmp:
        model = tracking.load_native(client, champion.run_id, Path(tmp))
    example = pd.DataFrame([[0.0] * len(model.spec.names)], columns=list(model.spec.names))
    record = tracking.RunRecord(
        model, {"notify_test": 1}, {"auc": 0.5, "gate_passed": 1.0}, example
    )
    _, version = tracking.log_run(client, tenant, record)
    return str(version)


def _served_model(url: str, key: str, code: str) -> str:
    answer = httpx.post(
        f"{url}/v1/preapprovals",
        json={"uscc": code},
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text[:300]
    return str(answer.json()["model"]["name"])


def test_a_promotion_through_one_host_reaches_the_other_within_a_second(
    hosts: tuple[Path, Keys, list[str], list[str]],
) -> None:
    home, keys, codes, (one, two) = hosts
    assert _served_model(two, keys.bank_a, codes[0]) == "precredit-platform"  # nothing of its own
    version = _register_for_bank(home, "bank_a")
    promoted = httpx.post(
        f"{one}/v1/models/promote",
        json={"version": version, "reason": "the bank's own model after validation"},
        headers={"Authorization": f"Bearer {keys.admin_a}"},
        timeout=60,
    )
    assert promoted.status_code == 200, promoted.text[:300]
    started = time.monotonic()
    while _served_model(two, keys.bank_a, codes[0]) != "precredit-bank_a":
        assert time.monotonic() - started < REACH_SECONDS, "host 2 still serves the old champion"
        time.sleep(0.02)


def test_the_listener_reconnects_and_catches_up(database: str) -> None:
    heard: list[str] = []
    listener = PromotionListener(database, heard.append, reconnect_seconds=0.1).start()
    try:
        assert listener.listening.wait(10)
        assert heard == ["*"]  # a (re)connection refreshes once: promotions may have been missed
        with psycopg.connect(
            database.replace("postgresql+psycopg", "postgresql"), autocommit=True
        ) as admin:
            admin.execute("SELECT pg_notify(%s, %s)", (CHANNEL, "precredit-bank_b"))
            deadline = time.monotonic() + 5
            while "precredit-bank_b" not in heard and time.monotonic() < deadline:
                time.sleep(0.02)
            assert heard[-1] == "precredit-bank_b"
            admin.execute(  # the listener's connection dies: it comes back and catches up
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE query LIKE 'LISTEN%%' AND pid <> pg_backend_pid() AND datname = current_database()"
            )
        deadline = time.monotonic() + 10
        while heard.count("*") < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert heard.count("*") == 2
    finally:
        listener.stop()
