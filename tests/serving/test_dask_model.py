"""A model grown on Dask is registered like any other and serves pre-approvals through the API.

The home is `trained_home.build_home` with its models' trees grown by lightgbm.dask on a local
cluster (2 worker processes, started once for this module); the API is the real server.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from api_fixtures import LiveApi
from trained_home import build_home

from models.boosting import Boosting
from serving.db import sqlite_url
from training import tracking
from training.dask_engine import DaskEngine, local_cluster


@pytest.fixture(scope="module")
def dask_api(tiny_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApi]:
    with local_cluster(workers=2, seed=42) as client:
        boosting = Boosting(engine=DaskEngine(client))
        home = build_home(tiny_store, tmp_path_factory.mktemp("dask") / "home", boosting)
    api = LiveApi.start("sqlite", home, sqlite_url(home / "service-sqlite.db"))
    yield api
    api.stop()


def test_the_champion_was_grown_on_dask_and_registered_like_the_single_process_model(
    dask_api: LiveApi, tmp_path: Path
) -> None:
    client = tracking.connect_client(f"sqlite:///{dask_api.home / 'mlflow.db'}")
    champion = tracking.version_by_alias(client, "platform", "champion")
    assert champion is not None
    params = client.get_run(champion.run_id).data.params
    assert (params["engine"], params["dask_workers"]) == ("dask", "2")
    model = tracking.load_native(client, champion.run_id, tmp_path / "native")
    assert "[machines: " not in model.classifier_.model_text()
    assert model.classifier_.best_iteration_ == model.meta_["best_iteration"]


def test_the_dask_model_answers_a_single_pre_approval(dask_api: LiveApi, tmp_path: Path) -> None:
    http = dask_api.client(dask_api.keys.bank_a)
    response = http.post("/v1/preapprovals", json={"uscc": dask_api.codes[1]})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert 0 < answer["pd"] < 1
    assert answer["reasons"]
    assert all(r["text_en"] and r["text_zh"] for r in answer["reasons"])
    client = tracking.connect_client(f"sqlite:///{dask_api.home / 'mlflow.db'}")
    champion = tracking.version_by_alias(client, "platform", "champion")
    assert champion is not None
    assert answer["model"] == answer["model"] | {
        "name": "precredit-platform",
        "version": str(champion.version),
    }
    native = tracking.load_native(client, champion.run_id, tmp_path / "native")
    assert answer["model"]["fingerprint"] == native.fingerprint()
