"""`precredit train --table ... --tenant T` registers a servable challenger; `models list` shows it.

The table is tests/data/credit_data_sample.csv (800 real loans) with a seeded application date
added, so the split is out of time and one selection is trained. Real MLflow (SQLite) and a real
service database under a temporary PRECREDIT_HOME; the bank is added with `precredit banks add`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pytest
from click.testing import Result
from mlflow import MlflowClient
from table_home import NAME, SECONDS, SEED, TRIALS, table_home, train_args
from typer.testing import CliRunner

from precredit.cli import app
from precredit.cli.errors import run_guarded
from precredit.settings import get_settings
from training.table import Roles, TableSpec, assess, read_prepared
from training.table_registry import export
from training.tuning import Budget

runner = CliRunner()


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """PRECREDIT_HOME with one bank, and the sample with dates as `loans.csv`."""
    with table_home(tmp_path_factory.mktemp("table_home")) as home:
        yield home


@pytest.fixture(scope="module")
def trained(home: Path) -> tuple[Result, dict[str, Any]]:
    out = home / "out" / "metrics.json"
    result = runner.invoke(app, train_args(home, out, "--tenant", "bank_one"))
    assert result.exit_code == 0, result.output
    return result, json.loads(out.read_text(encoding="utf-8"))


def client(home: Path) -> MlflowClient:
    uri = get_settings().mlflow_uri
    return MlflowClient(uri, uri)


def test_the_table_model_is_registered_as_challenger_with_its_gate(
    home: Path, trained: tuple[Result, dict[str, Any]]
) -> None:
    result, metrics = trained
    assert (metrics["registered_model"], metrics["version"]) == (NAME, "1")
    assert (metrics["alias"], metrics["tenant"], metrics["split"]) == (
        "challenger",
        "bank_one",
        "out_of_time",
    )
    checks = {c["name"]: c for c in metrics["gate"]["checks"]}
    assert checks["beats_scorecard"]["passed"] == (
        checks["beats_scorecard"]["value"] >= checks["beats_scorecard"]["threshold"]
    )
    assert checks["beats_scorecard"]["threshold"] == pytest.approx(metrics["auc_scorecard"])
    assert metrics["gate"]["passed"] == all(c["passed"] for c in checks.values())
    assert f"registered {NAME} version 1 @challenger" in result.stderr
    version = client(home).get_model_version_by_alias(NAME, "challenger")
    run = client(home).get_run(version.run_id)
    assert run.data.params["label"] == "table"
    assert run.data.params["model_fingerprint"] == metrics["model_fingerprint"]
    assert run.data.metrics["gate_passed"] == float(metrics["gate"]["passed"])
    review = {Path(a.path).name for a in client(home).list_artifacts(run.info.run_id, "review")}
    assert {"model_card.md", "calibration.png", "baselines.csv", "gate.json"} <= review


def test_models_list_shows_the_challenger_with_metrics_and_gate(
    home: Path, trained: tuple[Result, dict[str, Any]]
) -> None:
    _, metrics = trained
    listed = runner.invoke(app, ["models", "list", "--tenant", "bank_one", "--json"])
    assert listed.exit_code == 0, listed.output
    [row] = json.loads(listed.stdout)
    assert (row["name"], row["version"], row["source"]) == (NAME, "1", "table")
    assert row["aliases"] == ["challenger"]
    assert row["auc"] == pytest.approx(metrics["gate_rows"]["auc"])
    assert row["ece"] == pytest.approx(metrics["gate_rows"]["ece"])
    assert row["gate_passed"] is metrics["gate"]["passed"]
    others = runner.invoke(app, ["models", "list", "--tenant", "bank_two", "--json"])
    assert json.loads(others.stdout) == []
    human = runner.invoke(app, ["models", "list"])
    assert human.exit_code == 0
    header, line = human.stdout.splitlines()[:2]
    assert header.split()[:4] == ["model", "version", "alias", "source"]
    assert line.split()[:4] == [NAME, "1", "challenger", "table"]


def test_the_registered_model_loads_offline_and_scores_the_table_like_training(
    home: Path, trained: tuple[Result, dict[str, Any]]
) -> None:
    """Same table, seed and budget in process: same model fingerprint, same PD on every row."""
    _, metrics = trained
    mlflow.set_tracking_uri(get_settings().mlflow_uri)
    try:
        served = mlflow.pyfunc.load_model(f"models:/{NAME}@challenger")
    finally:
        mlflow.set_tracking_uri(None)
    table = pd.read_csv(home / "loans.csv")
    spec = TableSpec(home / "loans.csv", Roles("Status", "bad", "applied", "rownames"))
    _, prepared = read_prepared(spec)
    found = assess(prepared, SEED, Budget(trials=TRIALS, seconds=SECONDS))
    model = export(found.model, found.model.scorecard, {})
    assert model.fingerprint() == metrics["model_fingerprint"]
    expected = found.model.predict_proba(prepared.X)
    np.testing.assert_array_equal(served.predict(table)["pd"].to_numpy(), expected)


def guarded(args: list[str], monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(sys, "argv", ["precredit", *args])
    with pytest.raises(SystemExit) as caught:
        run_guarded(app)
    return int(caught.value.code or 0)


@pytest.mark.parametrize(
    ("tenant", "code", "message"),
    [
        ("bank_nobody", "not_found", "no bank 'bank_nobody' in the service database"),
        ("platform", "invalid_input", "a table model belongs to a bank"),
    ],
)
def test_an_unknown_tenant_or_the_platform_is_refused_before_training(
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tenant: str,
    code: str,
    message: str,
) -> None:
    out = home / "refused" / "metrics.json"
    assert guarded(train_args(home, out, "--tenant", tenant), monkeypatch) == 2
    line = capsys.readouterr().err.strip()
    assert line.startswith(f"precredit: error [{code}]: {message}")
    assert not out.exists()
    assert not client(home).search_registered_models(f"name LIKE 'precredit-{tenant}%'")


def test_a_bad_table_registers_nothing_and_writes_nothing(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = pd.read_csv(home / "loans.csv")
    bad.loc[:20, "Status"] = "unknown"
    bad.to_csv(home / "bad_loans.csv", index=False)
    out = home / "bad" / "metrics.json"
    args = train_args(home, out, "--tenant", "bank_one")
    args[2] = str(home / "bad_loans.csv")
    assert guarded(args, monkeypatch) == 2
    err = capsys.readouterr().err
    assert "precredit: error [invalid_input]: target 'Status' has 2 values besides 'bad'" in err
    assert not out.exists()
    assert not client(home).search_registered_models("name LIKE '%bad-loans%'")


def test_column_warnings_go_to_stderr_and_the_metrics_json(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --id-col and --time-col: both are excluded with a named warning (no registration)."""
    out = home / "warned" / "metrics.json"
    args = ["train", "--table", str(home / "loans.csv"), "--target", "Status", "--positive"]
    args += ["bad", "--negative", "good", "--trials", "2", "--tune-seconds", "5"]
    args += ["--metrics-json", str(out)]
    assert guarded(args, monkeypatch) == 0
    err = capsys.readouterr().err
    assert "precredit: warning [id_like_column]: column 'rownames'" in err
    assert "precredit: warning [date_like_column]: column 'applied'" in err
    warnings = json.loads(out.read_text(encoding="utf-8"))["warnings"]
    assert [(w["code"], w["column"]) for w in warnings] == [
        ("id_like_column", "rownames"),
        ("date_like_column", "applied"),
    ]
