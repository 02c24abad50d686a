"""`precredit train --table` end to end on a committed sample of a real public credit table.

tests/data/credit_data_sample.csv: 800 loans of modeldata's `credit_data` (MIT; see
tests/data/README.md). The command selects a model per fold, writes the metrics JSON with every
baseline on the same rows, and prints the candidates, the choice and the verdict.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from typer.testing import CliRunner

from precredit.cli import app

SAMPLE = Path(__file__).parents[1] / "data" / "credit_data_sample.csv"
BASELINES = ("auc_scorecard", "auc_logistic", "auc_lightgbm_default")
runner = CliRunner()


def train(out: Path, *extra: str) -> Result:
    """Run `precredit train --table` on the sample with a small tuning budget."""
    args = ["train", "--table", str(SAMPLE), "--target", "Status", "--positive", "bad"]
    args += ["--id-col", "rownames", "--trials", "3", "--metrics-json", str(out), *extra]
    return runner.invoke(app, args)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Result, dict[str, Any]]:
    out = tmp_path_factory.mktemp("train_table") / "metrics.json"
    result = train(out)
    assert result.exit_code == 0, result.output
    return result, json.loads(out.read_text(encoding="utf-8"))


def test_metrics_json_states_every_baseline_on_the_same_rows(
    trained: tuple[Result, dict[str, Any]],
) -> None:
    """Five folds, a choice per fold, each baseline's AUC and the margin over the best one."""
    _, metrics = trained
    assert metrics["split"] == "cv5"
    assert metrics["n_rows"] == 800
    assert len(metrics["chosen"]) == 5
    assert set(metrics["chosen"]) <= {"scorecard", "blend", "lightgbm"}
    assert all(0.5 < metrics[name] < 1.0 for name in ("auc", *BASELINES))
    best = max(metrics[name] for name in BASELINES)
    assert metrics["margin"] == pytest.approx(metrics["auc"] - best)
    assert metrics["beats_baselines"] == (metrics["margin"] >= 0)
    assert len(metrics["ece_ci95"]) == 5
    assert all(low <= high for low, high in metrics["ece_ci95"])


def test_console_names_candidates_choice_and_verdict(
    trained: tuple[Result, dict[str, Any]],
) -> None:
    """The summary lists candidates' inner AUCs, the test AUCs, and says who wins in words."""
    result, metrics = trained
    assert "candidates (inner AUC): scorecard" in result.output
    assert "auc_lightgbm_default" in result.output
    assert metrics["verdict"] in result.output
    beaten = "WARNING: baseline" in metrics["verdict"]
    assert beaten == (not metrics["beats_baselines"])


def test_table_without_target_is_refused_and_writes_nothing(tmp_path: Path) -> None:
    """--table without --target is a usage error; no metrics file appears."""
    out = tmp_path / "none.json"
    result = runner.invoke(app, ["train", "--table", str(SAMPLE), "--metrics-json", str(out)])
    assert result.exit_code != 0
    assert not out.exists()
