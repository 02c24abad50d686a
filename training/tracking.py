"""MLflow: tracked runs, the registry (`precredit-<tenant>`), aliases and promotions.

Every run logs parameters, the data fingerprint, metrics, the reviewer's artifacts and the
model (pyfunc from code, with signature and input example) plus its native artifacts under
`preapproval/`, which serving loads without pyfunc. Registered versions get the alias
`challenger`; a promotion (`training.promotion`) moves `champion` and tags who and why.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import warnings
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities import Metric, Param
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature

from catalog.errors import ModelUnavailable
from models import pyfunc
from models.preapproval import PreapprovalModel

EXPERIMENT = "precredit"
NATIVE_DIR = "preapproval"
# What the pyfunc model imports when loaded outside this project (models.pyfunc).
RUNTIME_PACKAGES = (
    "mlflow",
    "lightgbm",
    "numpy",
    "pandas",
    "scikit-learn",
    "scipy",
    "pydantic",
    "pyyaml",
)
CHAMPION, CHALLENGER = "champion", "challenger"


PUBLIC_OWNER = "platform_public"  # the public-records-only platform model's owner id


def model_name(tenant: str) -> str:
    """Registered model name of a tenant (`platform` for the cold-start model)."""
    return f"precredit-{tenant}"


TABLE_INFIX = "-table-"  # `precredit-<tenant>-table-<slug>`: a model of a bank's own table


def table_model_name(tenant: str, slug: str) -> str:
    """Registered name of the tenant's model trained on its own table `slug`."""
    return f"{model_name(tenant)}{TABLE_INFIX}{slug}"


def connect_client(tracking_uri: str) -> MlflowClient:
    """A client for reading the registry (no global MLflow state touched)."""
    return MlflowClient(tracking_uri, tracking_uri)


def connect(tracking_uri: str, artifact_root: Path) -> MlflowClient:
    """A client on the tracking store whose experiment exists (no MLflow process globals set)."""
    client = connect_client(tracking_uri)
    if client.get_experiment_by_name(EXPERIMENT) is None:
        artifact_root.mkdir(parents=True, exist_ok=True)
        client.create_experiment(EXPERIMENT, artifact_location=artifact_root.resolve().as_uri())
    return client


@dataclass(frozen=True)
class RunRecord:
    """What one training run logs: the model, its parameters, metrics, reviewer files, tags."""

    model: PreapprovalModel
    params: dict[str, Any]
    metrics: dict[str, float]
    example: pd.DataFrame  # input rows: the model signature and input example
    files: dict[str, str | bytes] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


def log_run(client: MlflowClient, tenant: str, record: RunRecord) -> tuple[str, str]:
    """Log one training run through `client` and register its model as the tenant's challenger."""
    name = model_name(tenant)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    if experiment is None:
        raise ModelUnavailable(f"experiment {EXPERIMENT} missing: call tracking.connect first")
    run_name = f"{name}-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}"
    run = client.create_run(experiment.experiment_id, run_name=run_name, tags=record.tags)
    run_id = run.info.run_id
    try:
        _log_contents(client, run_id, record)
    except BaseException:
        client.set_terminated(run_id, "FAILED")
        raise
    client.set_terminated(run_id, "FINISHED")
    version = register_version(client, name, f"{run.info.artifact_uri}/model", run_id)
    set_challenger(client, name, version)
    return run_id, version


def _log_contents(client: MlflowClient, run_id: str, record: RunRecord) -> None:
    """Parameters, metrics, reviewer files, native artifacts and the pyfunc model of one run."""
    model, params, metrics, files = record.model, record.params, record.metrics, record.files
    now = int(dt.datetime.now(dt.UTC).timestamp() * 1000)
    client.log_batch(
        run_id,
        metrics=[Metric(k, float(v), now, 0) for k, v in metrics.items()],
        params=[Param(k, str(v)) for k, v in params.items()],
    )
    with tempfile.TemporaryDirectory() as tmp:
        review = Path(tmp) / "review"
        review.mkdir()
        for file_name, content in files.items():
            data = content if isinstance(content, bytes) else content.encode()
            (review / file_name).write_bytes(data)
        client.log_artifacts(run_id, str(review), artifact_path="review")
        native = Path(tmp) / NATIVE_DIR
        model.save(native)
        client.log_artifacts(run_id, str(native), artifact_path=NATIVE_DIR)
        example = _as_doubles(record.example.loc[:, list(model.spec.names)].head(5))
        with warnings.catch_warnings():  # integer outputs (grade) are integers: no missing value
            warnings.filterwarnings("ignore", "Hint: Inferred schema contains integer", UserWarning)
            signature = infer_signature(example, pyfunc_output(model, example))
        saved = Path(tmp) / "model"
        mlflow.pyfunc.save_model(
            str(saved),
            python_model=pyfunc.__file__,
            artifacts={pyfunc.ARTIFACT_KEY: str(native)},
            signature=signature,
            input_example=example,
            pip_requirements=requirements(),
        )
        client.log_artifacts(run_id, str(saved), artifact_path="model")


def register_version(client: MlflowClient, name: str, source: str, run_id: str) -> str:
    """A new version of registered model `name` from the run's logged model."""
    try:
        client.create_registered_model(name)
    except MlflowException as error:
        if error.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
    return str(client.create_model_version(name, source, run_id=run_id).version)


def set_challenger(client: MlflowClient, name: str, version: str) -> None:
    """Point `@challenger` of registered model `name` at a newly registered version."""
    client.set_registered_model_alias(name, CHALLENGER, version)


def requirements() -> list[str]:
    """The served model's pinned requirements, read from this environment.

    Given explicitly, MLflow skips inferring them (about 20 s per logged model: it loads the
    model in a subprocess to watch its imports).
    """
    return [f"{name}=={version(name)}" for name in RUNTIME_PACKAGES]


def _as_doubles(example: pd.DataFrame) -> pd.DataFrame:
    """Integer inputs as doubles: the model reads float64 and an input may be missing (NaN),
    which an integer column of the signature would refuse."""
    ints = [c for c in example.columns if pd.api.types.is_integer_dtype(example[c])]
    return example.astype(dict.fromkeys(ints, "float64"))


def pyfunc_output(model: PreapprovalModel, X: pd.DataFrame) -> pd.DataFrame:
    """What the pyfunc returns for X (for the signature)."""
    return pd.DataFrame([{k: d[k] for k in pyfunc.OUTPUT_COLUMNS} for d in model.preapprove(X)])


def version_by_alias(client: MlflowClient, tenant: str, alias: str) -> Any | None:
    """The model version behind an alias, or None."""
    try:
        return client.get_model_version_by_alias(model_name(tenant), alias)
    except MlflowException:
        return None


def load_native(client: MlflowClient, run_id: str, destination: Path) -> PreapprovalModel:
    """Download a run's native artifacts and load them (SHA-256 verified)."""
    try:
        destination.mkdir(parents=True, exist_ok=True)
        path = client.download_artifacts(run_id, NATIVE_DIR, str(destination))
    except MlflowException as error:
        raise ModelUnavailable(f"artifacts of run {run_id} cannot be downloaded") from error
    return PreapprovalModel.load(Path(path))


def set_champion(client: MlflowClient, name: str, version: str, tags: dict[str, str]) -> None:
    """Move `@champion` of the registered model `name` to `version` with the promotion's tags.

    Only `training.promotion.promote` calls this: it applies the rule (gate, maker-checker).
    """
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, value)
    client.set_registered_model_alias(name, CHAMPION, version)
