"""Models in service: registry first, verified last-known-good copy when MLflow is down, 503 never a default."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest
from api_fixtures import ApiStacks, LiveApi

from catalog.errors import ModelUnavailable
from serving.decision.model_store import ModelHolder
from serving.http import ServerThread, free_port

UNREACHABLE = f"http://127.0.0.1:{free_port()}"  # nothing listens there


def _holder(home: Path, tracking_uri: str, cache: Path) -> ModelHolder:
    return ModelHolder(tracking_uri, home / "mlartifacts", cache)


def test_a_bank_without_its_own_model_is_served_the_platform_champion(
    api_stacks: ApiStacks, tmp_path: Path
) -> None:
    home = api_stacks.home
    served = _holder(home, f"sqlite:///{home / 'mlflow.db'}", tmp_path / "cache").get("bank_zz")
    assert (served.name, served.version) == ("precredit-platform", "1")
    assert (tmp_path / "cache" / "precredit-platform" / "current.json").exists()


def test_mlflow_unreachable_serves_the_verified_local_copy(
    api_stacks: ApiStacks, tmp_path: Path
) -> None:
    home, cache = api_stacks.home, tmp_path / "cache"
    first = _holder(home, f"sqlite:///{home / 'mlflow.db'}", cache).get("platform")
    again = _holder(home, UNREACHABLE, cache).get("platform")
    assert (again.name, again.version, again.fingerprint) == (
        first.name,
        first.version,
        first.fingerprint,
    )


def test_no_registry_and_no_copy_is_503_never_a_default_model(
    api_stacks: ApiStacks, tmp_path: Path
) -> None:
    with pytest.raises(ModelUnavailable):
        _holder(api_stacks.home, UNREACHABLE, tmp_path / "empty-cache").get("platform")


def test_a_tampered_local_copy_is_refused(api_stacks: ApiStacks, tmp_path: Path) -> None:
    home, cache = api_stacks.home, tmp_path / "cache"
    _holder(home, f"sqlite:///{home / 'mlflow.db'}", cache).get("platform")
    model_file = cache / "precredit-platform" / "1" / "model.txt"
    model_file.write_text(model_file.read_text().replace("tree", "TREE", 1))
    with pytest.raises(ModelUnavailable):
        _holder(home, UNREACHABLE, cache).get("platform")


def test_an_api_without_any_model_answers_503_and_is_not_ready(
    sqlite_api: LiveApi, tmp_path: Path
) -> None:
    """A second server on the same data but an unreachable registry and an empty cache."""
    from serving.app import create_app
    from serving.config import Settings

    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(sqlite_api.home / "platform.duckdb", home / "platform.duckdb")
    settings = Settings(
        home=home,
        database_url=sqlite_api.database_url,
        tracking_uri=UNREACHABLE,
        model_poll_seconds=0,
    )
    with ServerThread(create_app(settings), name="no-model-api") as server:
        base = server.base_url
        headers = {"Authorization": f"Bearer {sqlite_api.keys.bank_a}"}
        answer = httpx.post(
            f"{base}/v1/preapprovals",
            json={"uscc": sqlite_api.codes[0]},
            headers=headers,
            timeout=30,
        )
        assert answer.status_code == 503
        assert answer.json()["error"]["code"] == "model_unavailable"
        ready = httpx.get(f"{base}/readyz", timeout=30)
        assert ready.status_code == 503
        assert ready.json()["checks"]["model"] is False
