"""Issue 14 §1-2 over the real API and CLI, on SQLite and PostgreSQL: reserved ids, operators,
the one promotion rule (gate, override) and maker-checker, with the recorded history.

One trained home per module; each database kind gets its own copy (its own MLflow registry),
an API on it, and the CLI pointed at the same home and service database. Versions are
registered through `tracking.log_run` (real MLflow) with the gate verdict the test needs.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pandas as pd
import pytest
from api_fixtures import LiveApi, pg_database, pg_missing, pg_unreachable
from mlflow import MlflowClient
from trained_home import build_home
from typer.testing import CliRunner

from precredit.cli import app
from precredit.cli.errors import run_guarded
from precredit.settings import get_settings
from serving.db import repo, sqlite_url
from training import tracking
from training.promotion import REQUESTED_BY_TAG

runner = CliRunner()
LONG_REASON = "validated on the 2025 book by the model-risk team; ticket MR-1402"


@pytest.fixture(scope="module")
def base_home(tiny_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A trained home (platform model v1 promoted), copied for each database kind."""
    return build_home(tiny_store, tmp_path_factory.mktemp("promotion") / "home")


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def api(
    request: pytest.FixtureRequest, base_home: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveApi]:
    """The API on its own copy of the home, and the CLI's environment pointing at both."""
    home = tmp_path_factory.mktemp(f"promotion-{request.param}") / "home"
    shutil.copytree(base_home, home)
    with ExitStack() as stack:
        if request.param == "sqlite":
            url = sqlite_url(home / "service.db")
        else:
            reason = pg_unreachable()
            if reason is not None:
                pg_missing("the PostgreSQL admin URL", reason)
            url = stack.enter_context(pg_database())
        live = LiveApi.start(request.param, home, url)
        stack.callback(live.stop)
        yield live


@pytest.fixture(autouse=True)
def cli_settings(api: LiveApi, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI reads the module's home and database (the per-test home would hide them)."""
    monkeypatch.setenv("PRECREDIT_HOME", str(api.home))
    monkeypatch.setenv("PRECREDIT_DATABASE_URL", api.database_url)
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    get_settings.cache_clear()


def cli(
    args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, str]:
    """Run the console script's guarded entry on `args`: exit code, stdout, stderr."""
    capsys.readouterr()  # drop what the test printed before (MLflow's logging)
    monkeypatch.setattr(sys, "argv", ["precredit", *args])
    with pytest.raises(SystemExit) as caught:
        run_guarded(app)
    captured = capsys.readouterr()
    return int(caught.value.code or 0), captured.out, captured.err


def registry(api: LiveApi) -> MlflowClient:
    return tracking.connect(f"sqlite:///{api.home / 'mlflow.db'}", api.home / "mlartifacts")


def register(
    api: LiveApi, tenant: str, *, gate_passed: bool, requested_by: str | None = None
) -> str:
    """A new version of `tenant`'s model (the platform champion's artifacts) with this verdict."""
    client = registry(api)
    champion = tracking.version_by_alias(client, "platform", tracking.CHAMPION)
    assert champion is not None
    with tempfile.TemporaryDirectory() as tmp:
        model = tracking.load_native(client, champion.run_id, Path(tmp))
    example = pd.DataFrame([[0.0] * len(model.spec.names)], columns=list(model.spec.names))
    tags = {} if requested_by is None else {REQUESTED_BY_TAG: requested_by}
    metrics = {"auc": 0.7, "gate_passed": float(gate_passed)}
    record = tracking.RunRecord(model, {"promotion_test": 1}, metrics, example, tags=tags)
    return tracking.log_run(client, tenant, record)[1]


def champion_of(api: LiveApi, tenant: str) -> str | None:
    version = tracking.version_by_alias(registry(api), tenant, tracking.CHAMPION)
    return None if version is None else str(version.version)


def identity(api: LiveApi, key: str) -> str:
    with api.sessions() as session:
        principal = repo.authenticate(session, key)
    assert principal is not None
    return repo.identity(principal)


def operator(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], name: str) -> str:
    code, out, err = cli(["operators", "add", name], monkeypatch, capsys)
    assert code == 0, err
    return out.strip().splitlines()[-1]


def test_the_platform_id_is_refused_for_banks(
    api: LiveApi, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for reserved in ("platform", "platform_public"):
        code, out, err = cli(
            ["banks", "add", "Platform", "--id", reserved, "--admin"], monkeypatch, capsys
        )
        assert code == 2
        assert err.startswith("precredit: error [reserved_id]: ")
        assert err.count("\n") == 1
        assert "Traceback" not in err + out
    with api.sessions() as session, pytest.raises(repo.ReservedId):
        repo.create_tenant(session, "platform_x", "Not the platform")
    code, out, _ = cli(
        ["banks", "add", "Platform Bank", "--id", "platformbank"], monkeypatch, capsys
    )
    assert code == 0  # only `platform` and `platform_...` are reserved
    assert out.strip().splitlines()[-1].startswith("pc_platformbank_")


def test_the_financing_platform_gets_a_platform_key_that_cannot_promote(
    api: LiveApi, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = cli(
        ["financing-platform", "add", "Shanwei SME financing"], monkeypatch, capsys
    )
    assert code == 0, err
    key = out.strip().splitlines()[-1]
    with api.sessions() as session:
        principal = repo.authenticate(session, key)
        names = {k.name for k in repo.list_keys(session, "platform")}
    assert principal is not None
    assert (principal.tenant_id, principal.scopes) == ("platform", frozenset({"platform"}))
    assert "Shanwei SME financing" in names
    refused = api.client(key).post("/v1/models/promote", json={"version": "1", "reason": "try"})
    assert refused.status_code == 403


def test_a_bank_admin_cannot_promote_platform_models(
    api: LiveApi, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    version = register(api, "platform", gate_passed=True)
    before = champion_of(api, "platform")
    args = [
        "models",
        "promote",
        "--tenant",
        "platform",
        "--version",
        version,
        "--reason",
        "mine now",
    ]
    code, _, err = cli([*args, "--key", api.keys.admin_a], monkeypatch, capsys)
    assert code == 2
    assert err.startswith("precredit: error [forbidden]: ")
    over_api = api.client(api.keys.admin_a).post(
        "/v1/models/promote", json={"version": version, "reason": "mine now"}
    )
    assert over_api.status_code == 404  # a bank's admin reaches only precredit-<its id>
    with api.sessions() as session:
        platform_admin = repo.issue_key(session, "platform", ["admin"])
        session.commit()
    not_operator = api.client(platform_admin).post(
        "/v1/models/promote", json={"version": version, "reason": "not an operator"}
    )
    assert not_operator.status_code == 403
    assert champion_of(api, "platform") == before


def test_an_operator_promotes_platform_models_and_the_history_shows_who(
    api: LiveApi, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    key = operator(monkeypatch, capsys, "Chen Jing (platform operations)")
    version = register(api, "platform", gate_passed=True, requested_by="key:someone-else")
    answer = api.client(key).post(
        "/v1/models/promote", json={"version": version, "reason": "quarterly refresh"}
    )
    assert answer.status_code == 200, answer.text
    promoted = answer.json()["promotion"]
    assert promoted["approved_by"] == identity(api, key)
    assert promoted["requested_by"] == "key:someone-else"
    assert champion_of(api, "platform") == version
    listed = api.client(api.keys.bank_a).get("/v1/models").json()["promotions"]
    assert listed[0] | {"promoted_at": None} == promoted | {"promoted_at": None}
    code, out, _ = cli(["models", "history", "--tenant", "platform", "--json"], monkeypatch, capsys)
    assert code == 0
    assert json.loads(out)[0]["version"] == version
    code, out, _ = cli(["models", "history", "--tenant", "platform"], monkeypatch, capsys)
    assert f"approved by {identity(api, key)}" in out


def test_an_operator_promotes_the_public_records_model_over_the_api(
    api: LiveApi, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    key = operator(monkeypatch, capsys, "Wu Min (platform operations)")
    version = register(api, "platform_public", gate_passed=True, requested_by="key:trainer")
    body = {"version": version, "reason": "public-records model refresh"}
    by_bank = api.client(api.keys.admin_a).post(
        "/v1/models/promote", json=body | {"public_records_only": True}
    )
    assert by_bank.status_code == 403
    assert champion_of(api, "platform_public") != version
    answer = api.client(key).post("/v1/models/promote", json=body | {"public_records_only": True})
    assert answer.status_code == 200, answer.text
    assert answer.json()["serving"] == {"name": "precredit-platform_public", "version": version}
    assert answer.json()["promotion"]["model_name"] == "precredit-platform_public"
    assert champion_of(api, "platform_public") == version
    both = api.client(key).post(
        "/v1/models/promote", json=body | {"public_records_only": True, "table": "loans"}
    )
    assert both.status_code == 422


def test_cli_promote_of_a_gate_failed_version_is_refused_unless_overridden(
    api: LiveApi, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    key = operator(monkeypatch, capsys, "Lin Hao (platform operations)")
    failed = register(api, "platform", gate_passed=False)
    before = champion_of(api, "platform")
    args = ["models", "promote", "--tenant", "platform", "--version", failed, "--reason", "need it"]
    code, out, err = cli([*args, "--key", key], monkeypatch, capsys)
    assert code == 2
    assert err.startswith("precredit: error [gate_failed]: ")
    assert err.count("\n") == 1
    assert champion_of(api, "platform") == before
    code, _, err = cli([*args, "--key", key, "--override-gate", "because"], monkeypatch, capsys)
    assert (code, err.split("]")[0]) == (2, "precredit: error [invalid_input")
    assert champion_of(api, "platform") == before
    monkeypatch.setenv("PRECREDIT_API_KEY", key)  # the key from the environment, as documented
    code, out, err = cli([*args, "--override-gate", LONG_REASON], monkeypatch, capsys)
    assert code == 0, err
    assert "gate FAILED; override recorded" in out
    assert champion_of(api, "platform") == failed
    code, out, _ = cli(["models", "history", "--tenant", "platform", "--json"], monkeypatch, capsys)
    latest = json.loads(out)[0]
    assert (latest["version"], latest["gate_passed"]) == (failed, False)
    assert latest["override_reason"] == LONG_REASON
    tags = registry(api).get_model_version("precredit-platform", failed).tags
    assert tags["gate_override_reason"] == LONG_REASON


def test_the_requester_cannot_approve_their_own_retraining(
    api: LiveApi, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    maker = operator(monkeypatch, capsys, "Wang Fang (maker)")
    checker = operator(monkeypatch, capsys, "Zhao Lei (checker)")
    version = register(api, "platform", gate_passed=True, requested_by=identity(api, maker))
    before = champion_of(api, "platform")
    body = {"version": version, "reason": "approving my own work"}
    refused = api.client(maker).post("/v1/models/promote", json=body)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "same_person"
    args = ["models", "promote", "--tenant", "platform", "--version", version, "--reason", "again"]
    code, _, err = cli([*args, "--key", maker], monkeypatch, capsys)
    assert (code, err.split("]")[0]) == (2, "precredit: error [same_person")
    assert champion_of(api, "platform") == before
    approved = api.client(checker).post(
        "/v1/models/promote", json={"version": version, "reason": "four eyes: reviewed the card"}
    )
    assert approved.status_code == 200, approved.text
    record = approved.json()["promotion"]
    assert (record["requested_by"], record["approved_by"]) == (
        identity(api, maker),
        identity(api, checker),
    )


def test_the_approver_is_never_a_field_of_the_body(api: LiveApi) -> None:
    body = {"version": "1", "approver": "Li Wei (CRO)", "reason": "typed-in name"}
    answer = api.client(api.keys.admin_a).post("/v1/models/promote", json=body)
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "invalid_input"
