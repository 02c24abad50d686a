"""Register a model trained on a bank's own table: gated, logged to MLflow, @challenger.

The name is `precredit-<tenant>-table-<slug>`, not the tenant's `precredit-<tenant>`: a table
model reads the bank's own columns, while `/v1/preapprovals` builds the platform's registry
features from the snapshot, so the API cannot feed it and promoting it there would break
serving. It is scored from the table's rows instead (`mlflow.pyfunc.load_model(uri)
.predict(rows)`, offline). The registered model is the one the metrics JSON tested: selected
on the fit and valid rows, judged on the test rows (out of time: the newest 20%; without a
time column: fold 1 of the cross-validation). The gate runs on those test rows, the WoE
scorecard fitted on the same training rows included; the run logs the model card, the
baselines, the calibration plot, the gate and the metrics JSON.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities import Metric, Param

from catalog.errors import ModelUnavailable
from training import metrics, report, table_pyfunc, tracking
from training.baselines import Scorecard, fit_scorecard
from training.gate import GateConfig, GateRows, GateVerdict, evaluate_gate
from training.promotion import REQUESTED_BY_TAG
from training.selection import SelectedModel
from training.table import Assessment, Prepared, TableSpec
from training.table_model import TableModel, WoeScorecard
from training.train import data_fingerprint

SOURCE = "table"  # the run's `label` parameter and tag: `precredit models list` shows it
METRIC_KEYS = ("auc", "ks", "gini", "brier", "ece", "margin")
BASELINE_KEYS = ("auc_scorecard", "auc_logistic", "auc_lightgbm_default")


def registered_name(tenant: str, table: Path) -> str:
    """`precredit-<tenant>-table-<slug>`; a name without ASCII letters or digits gets a hash."""
    slug = re.sub(r"[^a-z0-9]+", "-", table.stem.lower()).strip("-")[:40].rstrip("-")
    if not slug:
        slug = "t" + hashlib.sha256(table.stem.encode()).hexdigest()[:8]
    return tracking.table_model_name(tenant, slug)


def export(model: SelectedModel, card: Scorecard | None, meta: dict[str, Any]) -> TableModel:
    """The selected model as files-backed `TableModel` (same PD on every row)."""
    spec = model.spec
    n_codes = {name: len(spec.categories[name]) for name in spec.categorical}
    tables = None if card is None else WoeScorecard.of(card, n_codes)
    return TableModel(spec, model.weight, model.calibrator, model.booster, tables, meta)


@dataclass(frozen=True, eq=False)
class TableTraining:
    """One `train --table` run: the table as read, prepared, assessed, and how it was asked."""

    frame: pd.DataFrame
    prepared: Prepared
    assessment: Assessment
    spec: TableSpec
    seed: int
    platform: tuple[
        str, ...
    ] = ()  # registry features joined by --join-platform (the API fills them)


@dataclass(frozen=True)
class TableRegistration:
    """What registering produced: the name, version, run, gate and model fingerprint."""

    name: str
    version: str
    run_id: str
    verdict: GateVerdict
    fingerprint: str
    gate_metrics: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (merged into the metrics JSON)."""
        return {
            "registered_model": self.name,
            "version": self.version,
            "alias": tracking.CHALLENGER,
            "run_id": self.run_id,
            "model_fingerprint": self.fingerprint,
            "gate": self.verdict.to_dict(),
            "gate_rows": self.gate_metrics,
        }


def gate_rows(training: TableTraining) -> GateRows:
    """The registered model's test and training rows, with the WoE scorecard's test AUC."""
    prepared, test = training.prepared, training.assessment.test_rows
    train = np.setdiff1d(np.arange(prepared.y.size), test)
    X, y, model = prepared.X, prepared.y, training.assessment.model
    card = model.scorecard or fit_scorecard(
        X.iloc[train], y[train], model.spec.categorical, seed=training.seed
    )
    auc = metrics.auc(y[test], card.predict_proba(X.iloc[test]))
    return GateRows(X.iloc[train], X.iloc[test], y[test], int(y[train].sum()), auc)


def register_table(
    client: MlflowClient,
    tenant: str,
    training: TableTraining,
    gate: GateConfig,
    requested_by: str | None = None,
) -> TableRegistration:
    """Gate the table model on its test rows, log the run, register it as @challenger."""
    selected = training.assessment.model
    rows = gate_rows(training)
    meta = {"seed": training.seed, "model": selected.describe(), "table": training.spec.path.name}
    if training.platform:
        meta["platform_features"] = list(training.platform)
    model = export(selected, selected.scorecard, meta)
    verdict = evaluate_gate(model, None, rows, gate)
    pd_test = model.predict_proba(rows.X_test)
    found = metrics.summary(rows.y_test, pd_test) | {"auc_scorecard": rows.scorecard_auc or 0.0}
    name = registered_name(tenant, training.spec.path)
    tags = {"label": SOURCE, "tenant": tenant, "table": training.spec.path.name}
    tags |= {} if requested_by is None else {REQUESTED_BY_TAG: requested_by}
    run_id = _log(client, name, tags, _Contents(training, model, verdict, found, pd_test))
    version = tracking.register_version(client, name, _model_uri(client, run_id), run_id)
    tracking.set_challenger(client, name, version)
    return TableRegistration(name, version, run_id, verdict, model.fingerprint(), found)


@dataclass(frozen=True, eq=False)
class _Contents:
    training: TableTraining
    model: TableModel
    verdict: GateVerdict
    found: dict[str, float]
    pd_test: np.ndarray


def _model_uri(client: MlflowClient, run_id: str) -> str:
    return f"{client.get_run(run_id).info.artifact_uri}/model"


def _log(client: MlflowClient, name: str, tags: dict[str, str], contents: _Contents) -> str:
    """One finished run with parameters, metrics, review files and the pyfunc model."""
    experiment = client.get_experiment_by_name(tracking.EXPERIMENT)
    if experiment is None:
        raise ModelUnavailable(f"experiment {tracking.EXPERIMENT} missing: connect first")
    run_name = f"{name}-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}"
    run_id = str(
        client.create_run(experiment.experiment_id, run_name=run_name, tags=tags).info.run_id
    )
    try:
        _log_numbers(client, run_id, contents)
        _log_files(client, run_id, contents)
    except BaseException:
        client.set_terminated(run_id, "FAILED")
        raise
    client.set_terminated(run_id, "FINISHED")
    return run_id


def _log_numbers(client: MlflowClient, run_id: str, contents: _Contents) -> None:
    training, model = contents.training, contents.model
    found = contents.found | {"gate_passed": float(contents.verdict.passed)}
    assessed = training.assessment.metrics
    found |= {f"table_{k}": float(assessed[k]) for k in (*METRIC_KEYS, *BASELINE_KEYS)}
    roles = training.spec.roles
    params = {
        "label": SOURCE,
        "table": training.spec.path.name,
        "target": roles.target,
        "positive": roles.positive,
        "seed": training.seed,
        "rows": int(training.prepared.y.size),
        "split": assessed["split"],
        "chosen": model.meta["model"]["chosen"],
        "weight_lightgbm": model.weight,
        "calibrator": model.calibrator.method,
        "model_fingerprint": model.fingerprint(),
        "data_fingerprint": data_fingerprint(training.frame),
    }
    now = int(dt.datetime.now(dt.UTC).timestamp() * 1000)
    client.log_batch(
        run_id,
        metrics=[Metric(k, float(v), now, 0) for k, v in found.items()],
        params=[Param(k, str(v)) for k, v in params.items()],
    )


def _review(contents: _Contents) -> dict[str, str | bytes]:
    training, verdict = contents.training, contents.verdict
    y = training.prepared.y[training.assessment.test_rows]
    assessed = training.assessment.metrics
    baselines = pd.DataFrame(
        [{"model": "precredit", "auc": assessed["auc"]}]
        + [{"model": k.removeprefix("auc_"), "auc": assessed[k]} for k in BASELINE_KEYS]
    )
    return {
        "model_card.md": model_card(contents),
        "calibration.png": report.calibration_plot(metrics.calibration_table(y, contents.pd_test)),
        "calibration_table.csv": metrics.calibration_table(y, contents.pd_test).to_csv(index=False),
        "baselines.csv": baselines.to_csv(index=False),
        "gate.json": json.dumps(verdict.to_dict(), indent=2),
        "metrics.json": json.dumps(assessed, indent=2, ensure_ascii=False, default=str),
        "input_example.csv": input_example(training, contents.model).to_csv(index=False),
    }


def _log_files(client: MlflowClient, run_id: str, contents: _Contents) -> None:
    """Review files, the model's own files and the pyfunc model (with signature and example)."""
    with tempfile.TemporaryDirectory() as tmp:
        review = Path(tmp) / "review"
        review.mkdir()
        for file_name, content in _review(contents).items():
            data = content if isinstance(content, bytes) else content.encode()
            (review / file_name).write_bytes(data)
        client.log_artifacts(run_id, str(review), artifact_path="review")
        native = Path(tmp) / table_pyfunc.ARTIFACT_KEY
        contents.model.save(native)
        client.log_artifacts(run_id, str(native), artifact_path=table_pyfunc.ARTIFACT_KEY)
        # No signature: MLflow's schema check refuses whole numbers for a float column (and
        # gaps in a whole-number one); `encode_rows` checks the columns the model reads.
        saved = Path(tmp) / "model"
        mlflow.pyfunc.save_model(
            str(saved),
            python_model=table_pyfunc.__file__,
            artifacts={table_pyfunc.ARTIFACT_KEY: str(native)},
            pip_requirements=tracking.requirements(),
        )
        client.log_artifacts(run_id, str(saved), artifact_path="model")


def input_example(training: TableTraining, model: TableModel) -> pd.DataFrame:
    """Five raw test rows, the model's columns (what `predict` reads)."""
    prepared, test = training.prepared, training.assessment.test_rows
    source = prepared.source_rows
    positions = test[:5] if source is None else source[test[:5]]
    return training.frame.iloc[positions][list(model.spec.names)].reset_index(drop=True)


def model_card(contents: _Contents) -> str:
    """Markdown model card of a table model: data, split, choice, test metrics, gate."""
    training, model, verdict = contents.training, contents.model, contents.verdict
    assessed, roles = training.assessment.metrics, training.spec.roles
    described = model.meta["model"]
    table_rows = "\n".join(f"| {k} | {assessed[k]:.4f} |" for k in (*METRIC_KEYS, *BASELINE_KEYS))
    gate_rows_md = "\n".join(
        f"| {c.name} | {'pass' if c.passed else 'FAIL'} | {c.value:.4g} | {c.threshold:.4g} |"
        for c in verdict.checks
    )
    warned = "\n".join(f"- {w['code']}: {w['message']}" for w in assessed["warnings"]) or "- none"
    return f"""# Model card: {training.spec.path.name} (a bank's own table)

- **Label**: `{roles.target}` = `{roles.positive}` is a default
- **Data**: {assessed["n_rows"]} rows, {assessed["n_positive"]} defaults, {assessed["n_features"]} features
- **Split**: {assessed["split"]}; the registered model is the one tested on its test rows
- **Model**: {described["chosen"]} (LightGBM share of the log-odds {model.weight}),
  calibration {model.calibrator.method}; fingerprint `{model.fingerprint()[:16]}`
- **Verdict**: {assessed["verdict"]}
- **Serving**: scored from the table's rows with `mlflow.pyfunc.load_model(...).predict(rows)`;
  not served by `/v1/preapprovals`, which builds the platform's features

## Test metrics (mean over folds for cv5) and baselines on the same rows
| metric | value |
|---|---|
{table_rows}

## Gate on the registered model's test rows
| check | result | value | threshold |
|---|---|---|---|
{gate_rows_md}

## Columns excluded
{warned}
"""
