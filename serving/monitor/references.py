"""A registered model version's frozen training references, and the model itself, for monitoring.

References come from the training run's review files (`score_reference.json`,
`feature_reference.json`), frozen when the version was trained. Monitoring never rebuilds
training data: a run without them is reported as having no reference.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from models.preapproval import PreapprovalModel
from training import tracking
from training.drift import FEATURE_REFERENCE
from training.pipeline import SCORE_REFERENCE


@dataclass(frozen=True)
class Monitored:
    """One model version with what monitoring compares against."""

    name: str
    version: str
    run_id: str
    model: PreapprovalModel
    features: dict[str, Any] | None  # feature_reference.json
    score: dict[str, Any] | None  # score_reference.json
    source: str  # frozen at training / missing

    def describe(self) -> dict[str, Any]:
        """JSON-ready identity and reference provenance."""
        ref = self.features or {}
        return {
            "name": self.name,
            "version": self.version,
            "run_id": self.run_id,
            "reference": {
                "source": self.source,
                "rows": ref.get("rows"),
                "as_of_first": ref.get("as_of_first"),
                "as_of_last": ref.get("as_of_last"),
            },
        }


def review_file(client: MlflowClient, run_id: str, name: str, tmp: Path) -> dict[str, Any] | None:
    """A JSON review file of a run (None when the run has none)."""
    try:
        path = client.download_artifacts(run_id, f"review/{name}", str(tmp))
    except (MlflowException, OSError):  # a run from before this file was kept
        return None
    loaded: dict[str, Any] = json.loads(Path(path).read_text())
    return loaded


def load(client: MlflowClient, name: str, version: str) -> Monitored:
    """The version's model and references (frozen, else rebuilt and cached, else missing)."""
    run_id = str(client.get_model_version(name, version).run_id)
    with tempfile.TemporaryDirectory() as tmp:
        model = tracking.load_native(client, run_id, Path(tmp) / "model")
        features = review_file(client, run_id, FEATURE_REFERENCE, Path(tmp))
        score = review_file(client, run_id, SCORE_REFERENCE, Path(tmp))
    if features is not None and score is not None:
        return Monitored(name, version, run_id, model, features, score, "frozen at training")
    return Monitored(name, version, run_id, model, features, score, "missing")
