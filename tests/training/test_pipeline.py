"""`training.pipeline.run` end to end with real MLflow (SQLite tracking under tmp_path).

The first run on `small_store` registers `precredit-platform` version 1 and promotes it; then a
label-shuffled challenger is logged through the same pieces (`tracking.log_run`,
`evaluate_gate`, `promotion.promote` when the gate passes) and must stay a challenger.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml
from mlflow import MlflowClient

from catalog.errors import InvalidInput, NotFound
from models import pyfunc
from models.preapproval import PreapprovalModel
from training import metrics, promotion, tracking
from training.gate import GateConfig, GateRows, GateVerdict, evaluate_gate
from training.pipeline import SCORECARD, PipelineConfig, PipelineResult, run
from training.promotion import AUTO_APPROVER, Approval
from training.table_model import WoeScorecard
from training.train import TrainResult, data_fingerprint

NAME = "precredit-platform"
RUN_METRICS = ["auc", "ks", "brier", "ece", "auc_scorecard", "auc_incumbent_rule", "auc_oracle"]
REVIEW = ["model_card.md", "calibration.png", "shap_summary.png", "shap_beeswarm.png",
          "shap_dependence.png", "grade_table.csv",
          "baselines.csv", "gate.json", "woe_scorecard.json"]  # fmt: skip


@dataclass
class FirstRun:
    config: PipelineConfig
    client: MlflowClient
    result: PipelineResult
    version: Any  # the registered version as it was right after the run
    workdir: Path


@dataclass
class SecondRun:
    verdict: GateVerdict
    version: str
    champion_after: str
    challenger_after: str
    tags: dict[str, str]


@pytest.fixture(scope="module")
def first(
    small_store: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> FirstRun:
    tmp = tmp_path_factory.mktemp("pipeline")
    # The small store's model trails the WoE scorecard (the demo's 20,000 entities do not):
    # this module tests the pipeline's wiring, so the scorecard margin is set aside explicitly.
    config = PipelineConfig(
        small_store,
        f"sqlite:///{tmp / 'mlflow.db'}",
        tmp / "artifacts",
        per_date=2_500,
        gate=GateConfig(scorecard_margin=-1.0),
    )
    result = run("platform", "platform", config)
    client = tracking.connect(config.tracking_uri, config.artifact_root)
    return FirstRun(config, client, result, client.get_model_version(NAME, result.version), tmp)


@pytest.fixture(scope="module")
def second(
    first: FirstRun, trained_platform: TrainResult, shuffled_platform: PreapprovalModel
) -> SecondRun:
    client, splits = first.client, trained_platform.splits
    test = splits["test"]
    y = test["label"].to_numpy()
    champion_version = tracking.version_by_alias(client, "platform", tracking.CHAMPION)
    champion = tracking.load_native(client, champion_version.run_id, first.workdir / "champion")
    card = trained_platform.metrics["auc_scorecard"]
    rows = GateRows.from_splits(splits, int(splits["train"]["label"].sum()), card)
    verdict = evaluate_gate(shuffled_platform, champion, rows)
    record = tracking.RunRecord(
        shuffled_platform,
        {"label": "platform", "labels": "shuffled"},
        metrics.summary(y, shuffled_platform.predict_proba(test)),
        test,
        {"gate.json": json.dumps(verdict.to_dict())},
        {"label": "platform"},
    )
    _, version = tracking.log_run(client, "platform", record)
    if verdict.passed:  # what `run` does with a verdict
        promotion.promote(client, "platform", version, Approval("test", "gate passed"))
    return SecondRun(
        verdict,
        version,
        str(tracking.version_by_alias(client, "platform", tracking.CHAMPION).version),
        str(tracking.version_by_alias(client, "platform", tracking.CHALLENGER).version),
        dict(client.get_model_version(NAME, version).tags),
    )


def test_the_first_run_is_registered_as_version_1_and_promoted(first: FirstRun) -> None:
    result, version = first.result, first.version
    assert (result.tenant, result.version) == ("platform", "1")
    assert result.verdict.passed
    assert result.promoted
    assert set(version.aliases) == {tracking.CHALLENGER, tracking.CHAMPION}
    assert version.run_id == result.run_id
    assert version.tags["promoted_by"] == AUTO_APPROVER
    reason = version.tags["promoted_reason"]
    assert reason.startswith("gate passed: ")
    assert all(c.name in reason for c in result.verdict.checks)
    at = dt.datetime.fromisoformat(version.tags["promoted_at"])
    assert at.tzinfo is not None
    assert abs(dt.datetime.now(dt.UTC) - at) < dt.timedelta(minutes=30)


def test_the_run_logs_metrics_params_and_the_data_fingerprint(
    first: FirstRun, platform_frame: pd.DataFrame
) -> None:
    logged = first.client.get_run(first.result.run_id).data
    for name in RUN_METRICS:
        assert logged.metrics[name] == pytest.approx(first.result.metrics[name], abs=1e-12), name
    assert logged.metrics["gate_passed"] == 1.0
    # Same store, seed and sample size as the session frame: the same data, byte for byte.
    assert logged.params["data_fingerprint"] == data_fingerprint(platform_frame)
    assert logged.params["rows"] == str(len(platform_frame))
    assert (logged.params["label"], logged.params["tenant"], logged.params["seed"]) == (
        "platform",
        "platform",
        "42",
    )
    assert logged.tags["label"] == "platform"


def test_the_run_keeps_the_review_artifacts(first: FirstRun) -> None:
    local = Path(
        mlflow.artifacts.download_artifacts(
            run_id=first.result.run_id,
            artifact_path="review",
            dst_path=str(first.workdir / "review"),
            tracking_uri=first.config.tracking_uri,
        )
    )
    assert set(REVIEW) <= {p.name for p in local.iterdir()}
    assert json.loads((local / "gate.json").read_text()) == first.result.verdict.to_dict()
    for image in (
        "calibration.png",
        "shap_summary.png",
        "shap_beeswarm.png",
        "shap_dependence.png",
    ):
        assert (local / image).read_bytes().startswith(b"\x89PNG")
    assert "precredit-platform" in (local / "model_card.md").read_text(encoding="utf-8")
    baselines = pd.read_csv(local / "baselines.csv")
    assert {"precredit", "woe_scorecard", "incumbent_tax_rule", "oracle_truth_pd"} <= set(
        baselines["model"]
    )
    assert len(pd.read_csv(local / "grade_table.csv")) >= 3


def test_the_gate_s_scorecard_is_kept_as_tables_that_score_as_it_did(
    first: FirstRun, trained_platform: TrainResult
) -> None:
    """The WoE scorecard the gate compared with, read back from the run, gives the same scores
    on the test rows as the fitted one, and so the AUC the run logged for it."""
    path = mlflow.artifacts.download_artifacts(
        run_id=first.result.run_id,
        artifact_path=f"review/{SCORECARD}",
        dst_path=str(first.workdir / "card"),
        tracking_uri=first.config.tracking_uri,
    )
    tables = WoeScorecard.from_dict(json.loads(Path(path).read_text()))
    test = trained_platform.splits["test"]
    assert trained_platform.scorecard is not None
    fitted = trained_platform.scorecard.log_odds(test[list(trained_platform.scorecard.features)])
    np.testing.assert_allclose(tables.log_odds(test), fitted, rtol=0, atol=1e-12)
    logged = first.result.metrics["auc_scorecard"]
    assert metrics.auc(test["label"].to_numpy(), tables.log_odds(test)) == pytest.approx(logged)
    assert any(f.categorical for f in tables.features.values())  # codes, not bin edges


def test_the_native_artifacts_are_the_session_model(
    first: FirstRun, trained_platform: TrainResult
) -> None:
    native = tracking.load_native(first.client, first.result.run_id, first.workdir / "native")
    assert native.fingerprint() == trained_platform.model.fingerprint()


def test_the_logged_model_holds_no_pickle(first: FirstRun) -> None:
    local = Path(
        mlflow.artifacts.download_artifacts(
            run_id=first.result.run_id,
            artifact_path="model",
            dst_path=str(first.workdir / "model"),
            tracking_uri=first.config.tracking_uri,
        )
    )
    files = [p for p in local.rglob("*") if p.is_file()]
    assert any(p.name == "model.txt" for p in files)
    for path in files:
        assert path.suffix not in {".pkl", ".pickle", ".joblib", ".cloudpickle"}, path
        assert not path.read_bytes().startswith(b"\x80"), path
    loader = yaml.safe_load((local / "MLmodel").read_text())["flavors"]["python_function"]
    assert loader["loader_module"] == "mlflow.pyfunc.loaders.code_model"  # model from code
    assert loader["model_code_path"].endswith("pyfunc.py")


def test_the_champion_pyfunc_answers_like_the_native_model(
    first: FirstRun, trained_platform: TrainResult
) -> None:
    rows = trained_platform.splits["test"].sample(800, random_state=8)
    X = rows[list(trained_platform.model.spec.names)]
    champion = first.client.get_model_version_by_alias(NAME, "champion")
    local = first.client.download_artifacts(champion.run_id, "model", str(first.workdir / "pyf"))
    served = mlflow.pyfunc.load_model(local).predict(X)
    native = pd.DataFrame(trained_platform.model.preapprove(rows))
    assert list(served.columns) == list(pyfunc.OUTPUT_COLUMNS)
    for column in ("decision", "limit_cny", "pd", "grade", "binding"):
        assert served[column].tolist() == native[column].tolist(), column


def test_a_label_shuffled_challenger_is_registered_but_not_promoted(
    first: FirstRun, second: SecondRun
) -> None:
    assert second.version == "2"
    assert not second.verdict.passed
    assert "auc_not_worse" in [c.name for c in second.verdict.checks if not c.passed]
    assert second.champion_after == "1"
    assert second.challenger_after == "2"
    assert not {"promoted_by", "promoted_reason", "promoted_at"} & set(second.tags)


def test_promoting_a_missing_version_is_not_found(first: FirstRun) -> None:
    with pytest.raises(NotFound):
        promotion.promote(first.client, "platform", "99", Approval("officer", "typo"))
    with pytest.raises(NotFound):
        promotion.promote(first.client, "bank_nobody", "1", Approval("officer", "no such model"))
    champion = tracking.version_by_alias(first.client, "platform", tracking.CHAMPION)
    assert str(champion.version) == "1"
    assert tracking.version_by_alias(first.client, "bank_nobody", tracking.CHAMPION) is None


def test_the_cold_start_label_cannot_train_a_bank_model(first: FirstRun) -> None:
    with pytest.raises(InvalidInput, match="--tenant platform"):
        run("platform", "bank_a", first.config)
    assert tracking.version_by_alias(first.client, "bank_a", tracking.CHALLENGER) is None


def test_a_challenger_below_the_scorecard_needs_a_recorded_override(
    first: FirstRun, second: SecondRun
) -> None:
    """Refused for losing to the WoE scorecard on the same rows; an override promotes it, kept.

    Last in the module: it moves @champion to version 2.
    """
    check = {c.name: c for c in second.verdict.checks}["beats_scorecard"]
    assert not check.passed
    assert check.value < check.threshold
    with pytest.raises(promotion.GateFailed):
        promotion.promote(first.client, "platform", second.version, Approval("officer", "ok"))
    assert str(tracking.version_by_alias(first.client, "platform", "champion").version) == "1"
    why = "the scorecard is retired; tested by risk on 2026 data"
    approval = Approval("officer", "accepted", promotion.Override(why))
    record = promotion.promote(first.client, "platform", second.version, approval)
    assert (record.gate_passed, record.override_reason) == (False, why)
    tags = first.client.get_model_version(NAME, second.version).tags
    assert tags["gate_override_reason"] == why
    assert tags["gate_passed"] == "false"
    assert str(tracking.version_by_alias(first.client, "platform", "champion").version) == "2"
