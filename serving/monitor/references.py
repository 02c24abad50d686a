"""A registered model version's frozen training references, and the model itself, for monitoring.

References come from the training run's review files (`score_reference.json`,
`feature_reference.json`). A version trained before those files were kept gets them rebuilt
once from its training data: the same pipeline on the same store, accepted only when the
rebuilt frame's fingerprint equals the one the run logged (platform label only), and cached
under `<home>/monitoring/references/`. Without either, monitoring says "no reference".
"""

from __future__ import annotations

import json
import math
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd
from mlflow import MlflowClient

from catalog import store
from models.preapproval import PreapprovalModel
from serving.config import Settings
from training import tracking
from training.dataset import store_end, time_split
from training.drift import FEATURE_REFERENCE, feature_reference
from training.pipeline import SCORE_REFERENCE, PipelineConfig, build_frame, observation_dates
from training.pipeline import score_reference as freeze_score
from training.train import TrainResult, data_fingerprint


@dataclass(frozen=True)
class Monitored:
    """One model version with what monitoring compares against."""

    name: str
    version: str
    run_id: str
    model: PreapprovalModel
    features: dict[str, Any] | None  # feature_reference.json
    score: dict[str, Any] | None  # score_reference.json
    source: str  # frozen at training / rebuilt from training data (fingerprint verified) / missing

    def describe(self) -> dict[str, Any]:
        """JSON-ready identity and reference provenance."""
        ref = self.features or {}
        return {"name": self.name, "version": self.version, "run_id": self.run_id,
                "reference": {"source": self.source, "rows": ref.get("rows"),
                              "as_of_first": ref.get("as_of_first"), "as_of_last": ref.get("as_of_last")}}  # fmt: skip


def cache_path(home: Path, name: str, version: str) -> Path:
    """Where a rebuilt reference of a version is kept."""
    return home / "monitoring" / "references" / f"{name}-v{version}.json"


def review_file(client: MlflowClient, run_id: str, name: str, tmp: Path) -> dict[str, Any] | None:
    """A JSON review file of a run (None when the run has none)."""
    try:
        path = client.download_artifacts(run_id, f"review/{name}", str(tmp))
    except Exception:  # a run from before this file was kept
        return None
    loaded: dict[str, Any] = json.loads(Path(path).read_text())
    return loaded


def load(settings: Settings, client: MlflowClient, name: str, version: str) -> Monitored:
    """The version's model and references (frozen, else rebuilt and cached, else missing)."""
    run_id = str(client.get_model_version(name, version).run_id)
    with tempfile.TemporaryDirectory() as tmp:
        model = tracking.load_native(client, run_id, Path(tmp) / "model")
        features = review_file(client, run_id, FEATURE_REFERENCE, Path(tmp))
        score = review_file(client, run_id, SCORE_REFERENCE, Path(tmp))
    if features is not None and score is not None:
        return Monitored(name, version, run_id, model, features, score, "frozen at training")
    rebuilt = _cached_or_rebuilt(
        settings, client, run_id, model, cache_path(settings.home, name, version)
    )
    if rebuilt is None:
        return Monitored(name, version, run_id, model, features, score, "missing")
    return Monitored(name, version, run_id, model, features or rebuilt["features"],
                     score or rebuilt["score"], "rebuilt from training data (fingerprint verified)")  # fmt: skip


def _cached_or_rebuilt(settings: Settings, client: MlflowClient, run_id: str,
                       model: PreapprovalModel, path: Path) -> dict[str, Any] | None:  # fmt: skip
    if path.exists():
        cached: dict[str, Any] = json.loads(path.read_text())
        return cached
    params = dict(client.get_run(run_id).data.params)
    train = training_split(settings, params)
    if train is None:
        return None
    rebuilt = {"run_id": run_id, "features": feature_reference(train, model.spec),
               "score": freeze_score(TrainResult(model, {"train": train}, {}))}  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rebuilt))
    return rebuilt


def training_split(settings: Settings, params: dict[str, str]) -> pd.DataFrame | None:
    """The run's training split rebuilt from the store, if its fingerprint matches (platform label)."""
    if params.get("label") != "platform" or "data_fingerprint" not in params:
        return None
    config = PipelineConfig(settings.store, settings.mlflow_uri, settings.artifact_root,
                            seed=int(params.get("seed", 42)))  # fmt: skip
    if "data_end" in params:
        config = replace(config, end=pd.Timestamp(params["data_end"]).date())
    with store.connect(settings.store, read_only=True) as con:
        for per_date in _per_date_candidates(config, con, int(params.get("rows", 0))):
            frame = build_frame(con, "platform", "platform", replace(config, per_date=per_date))
            if data_fingerprint(frame) == params["data_fingerprint"]:
                return time_split(frame)["train"]
    return None


def _per_date_candidates(config: PipelineConfig, con: store.Connection, rows: int) -> list[int]:
    """The default sample size per date, then the one the logged row count implies."""
    dates = observation_dates(config.end or store_end(con))
    implied = math.ceil(rows / len(dates)) if rows and dates else config.per_date
    return list(dict.fromkeys((config.per_date, implied)))
