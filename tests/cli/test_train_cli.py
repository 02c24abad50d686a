"""`precredit train` and `precredit models promote` through the full app, with real MLflow.

Settings come from the environment (PRECREDIT_HOME, PRECREDIT_STORE_PATH); `get_settings` is
cached, so the cache is cleared around the module. The store is a copy of `tiny_store`: these
tests check the command's wiring, the model itself is checked in tests/models and tests/training.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import Result
from mlflow import MlflowClient
from typer.testing import CliRunner

from catalog.errors import InvalidInput
from precredit.cli import app
from precredit.cli.errors import run_guarded
from precredit.settings import get_settings
from training.promotion import GateFailed

runner = CliRunner()
METRICS = ["auc", "ks", "brier", "ece", "n_rows", "auc_oracle", "auc_scorecard",
           "auc_incumbent_rule"]  # fmt: skip


@pytest.fixture(scope="module")
def home(
    tiny_store: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Path]:
    """PRECREDIT_HOME for the module, with a copy of the store outside it."""
    home = tmp_path_factory.mktemp("home")
    store_copy = tmp_path_factory.mktemp("store") / "platform.duckdb"
    shutil.copy(tiny_store, store_copy)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PRECREDIT_HOME", str(home))
        patch.setenv("PRECREDIT_STORE_PATH", str(store_copy))
        patch.delenv("PRECREDIT_TRACKING_URI", raising=False)
        get_settings.cache_clear()
        try:
            yield home
        finally:
            get_settings.cache_clear()


@pytest.fixture(scope="module")
def trained(home: Path) -> tuple[Result, Path]:
    """One `precredit train` run and the metrics JSON it wrote."""
    out = home / "out" / "metrics.json"
    args = ["train", "--label", "platform", "--tenant", "platform", "--metrics-json", str(out)]
    return runner.invoke(app, args), out


def guarded(args: list[str], monkeypatch: pytest.MonkeyPatch) -> int:
    """Run the console script's error runner on `args`; its exit code."""
    monkeypatch.setattr(sys, "argv", ["precredit", *args])
    with pytest.raises(SystemExit) as caught:
        run_guarded(app)
    return int(caught.value.code or 0)


def test_train_writes_the_metrics_json(home: Path, trained: tuple[Result, Path]) -> None:
    result, out = trained
    assert result.exit_code == 0, result.output
    assert f"metrics written to {out}" in result.stdout
    report = json.loads(out.read_text(encoding="utf-8"))
    assert set(METRICS) <= set(report)
    assert report["n_rows"] > 0
    assert 0.5 < report["auc"] <= 1.0
    assert 0.0 <= report["ece"] < 1.0
    assert (report["tenant"], report["version"]) == ("platform", "1")
    assert report["promoted"] == report["gate"]["passed"]
    assert len(report["gate"]["checks"]) == 6
    # The run landed in the MLflow store under PRECREDIT_HOME, with the same numbers.
    client = MlflowClient(f"sqlite:///{home / 'mlflow.db'}")
    logged = client.get_run(report["run_id"]).data.metrics
    assert all(logged[k] == pytest.approx(report[k], abs=1e-12) for k in METRICS)
    assert any((home / "mlartifacts").iterdir())


def test_the_cold_start_label_for_a_bank_exits_2_with_one_line(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code = guarded(["train", "--label", "platform", "--tenant", "bank_a"], monkeypatch)
    captured = capsys.readouterr()
    assert code == 2
    assert captured.err.startswith("precredit: error [invalid_input]: ")
    assert captured.err.count("\n") == 1
    assert "Traceback" not in captured.err + captured.out


def operator_key() -> str:
    """A platform operator's key, made by `precredit operators add` (its last line)."""
    result = runner.invoke(app, ["operators", "add", "Test Operator"])
    assert result.exit_code == 0, result.output
    return result.stdout.strip().splitlines()[-1]


def test_promoting_a_missing_version_exits_2_not_found(
    trained: tuple[Result, Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    key = operator_key()
    args = ["models", "promote", "--tenant", "platform", "--version", "99", "--why", "b"]
    code = guarded([*args, "--key", key], monkeypatch)
    captured = capsys.readouterr()
    assert code == 2
    assert captured.err.startswith("precredit: error [not_found]: ")
    assert captured.err.count("\n") == 1


def test_promote_records_who_and_why(home: Path, trained: tuple[Result, Path]) -> None:
    key = operator_key()
    passed = json.loads(trained[1].read_text(encoding="utf-8"))["gate"]["passed"]
    args = ["models", "promote", "--tenant", "platform", "--version", "1"]
    args += ["--reason", "reviewed the model card", "--key", key]
    if not passed:  # the tiny store calibrates coarsely: the default gate may refuse v1
        refused = runner.invoke(app, args)
        assert isinstance(refused.exception, GateFailed)  # exit 2 through `run_guarded`
        args += ["--override-gate", "tiny test store; calibration is not under test here"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "precredit-platform version 1 is now @champion" in result.stdout
    client = MlflowClient(f"sqlite:///{home / 'mlflow.db'}")
    version = client.get_model_version_by_alias("precredit-platform", "champion")
    assert str(version.version) == "1"
    assert version.tags["promoted_by"].startswith("key:")
    assert version.tags["promoted_reason"] == "reviewed the model card"
    history = runner.invoke(app, ["models", "history", "--tenant", "platform", "--json"])
    rows = json.loads(history.stdout)
    assert rows[0]["approved_by"] == version.tags["promoted_by"]
    assert rows[0]["gate_passed"] is passed
    auto = [r["approved_by"] for r in rows[1:]]
    assert auto == (["policy:auto"] if passed else [])  # `precredit train` promotes only a pass


def test_train_scope_public_registers_the_public_model_an_operator_promotes(
    home: Path, trained: tuple[Result, Path]
) -> None:
    out = home / "out" / "public.json"
    args = ["train", "--scope", "public", "--no-promote", "--metrics-json", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text(encoding="utf-8"))
    assert (report["tenant"], report["promoted"]) == ("platform_public", False)
    client = MlflowClient(f"sqlite:///{home / 'mlflow.db'}")
    run = client.get_run(report["run_id"])
    assert run.data.params["data_scope"] == "public_records"
    bank = runner.invoke(app, ["banks", "add", "Bank P", "--id", "bank_p", "--admin"])
    promote = ["models", "promote", "--tenant", "platform_public", "--version", report["version"]]
    promote += ["--reason", "public model card reviewed"]
    if not report["gate"]["passed"]:
        promote += ["--override-gate", "tiny test store; calibration is not under test here"]
    refused = runner.invoke(app, [*promote, "--key", bank.stdout.strip().splitlines()[-1]])
    assert refused.exit_code != 0
    assert getattr(refused.exception, "code", None) == "forbidden"
    done = runner.invoke(app, [*promote, "--key", operator_key()])
    assert done.exit_code == 0, done.output
    assert f"precredit-platform_public version {report['version']} is now @champion" in done.stdout
    wrong = runner.invoke(app, ["train", "--scope", "public", "--label", "outcomes"])
    assert isinstance(wrong.exception, InvalidInput)
    assert "scope public" in wrong.exception.message


def test_train_engine_dask_registers_a_model_grown_on_the_cluster(
    home: Path, trained: tuple[Result, Path]
) -> None:
    out = home / "out" / "dask.json"
    args = ["train", "--engine", "dask", "--workers", "2", "--no-promote"]
    result = runner.invoke(app, [*args, "--metrics-json", str(out)])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"metrics written to {out}"  # no LightGBM network chatter
    report = json.loads(out.read_text(encoding="utf-8"))
    assert (report["tenant"], report["promoted"]) == ("platform", False)
    assert 0.5 < report["auc"] <= 1.0
    params = MlflowClient(f"sqlite:///{home / 'mlflow.db'}").get_run(report["run_id"]).data.params
    assert (params["engine"], params["dask_workers"]) == ("dask", "2")


def test_train_engine_dask_refuses_a_table(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["train", "--engine", "dask", "--table", "t.csv", "--target", "y", "--positive", "1"]
    assert guarded(args, monkeypatch) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "precredit: error [invalid_input]: --engine dask trains on the platform store: "
        "not with --table"
    ]


def test_train_engine_dask_without_the_extra_says_so_in_one_line(home: Path) -> None:
    """A machine without `precredit[dask]`: `distributed` cannot be imported there."""
    probe = (
        "import sys; sys.modules['distributed'] = None; sys.argv = sys.argv[1:]; "
        "from precredit.cli import main; main()"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, "precredit", "train", "--engine", "dask"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 3
    assert done.stderr.strip().splitlines() == [
        "precredit: error [dask_unavailable]: the Dask engine needs the optional extra 'dask' "
        "(distributed is missing): pip install 'precredit[dask]'"
    ]
