"""Where a validation pack goes: the output directory, the home (for the API), the MLflow run."""

from __future__ import annotations

import tempfile
from pathlib import Path

from serving.config import Settings
from serving.decision.model_store import PLATFORM
from serving.validation.result import ValidationPack
from training import tracking


def kept(home: Path, tenant_id: str, name: str, version: str) -> Path:
    """Where the newest pack of (tenant, model version) is kept for the API."""
    return home / "validation" / tenant_id / f"{name}-v{version}.json"


def latest(home: Path, tenant_id: str, version: str) -> ValidationPack | None:
    """The newest pack of `version` for the tenant (its own model first, then the platform's)."""
    for owner in dict.fromkeys((tenant_id, PLATFORM)):
        path = kept(home, tenant_id, tracking.model_name(owner), version)
        try:
            return ValidationPack.model_validate_json(path.read_bytes())
        except (OSError, ValueError):
            continue
    return None


def write(pack: ValidationPack, out: Path, settings: Settings) -> list[Path]:
    """Write validation.json and validation.html to `out`, keep the JSON for the API, log both."""
    from serving.validation import render

    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "validation.json", out / "validation.html"]
    paths[0].write_text(pack.model_dump_json(indent=2))
    paths[1].write_text(render.html(pack))
    keep = kept(settings.home, pack.scope.tenant, pack.model.name, pack.model.version)
    keep.parent.mkdir(parents=True, exist_ok=True)
    staging = keep.with_suffix(".json.tmp")
    staging.write_bytes(paths[0].read_bytes())
    staging.replace(keep)  # readers never see half a file
    client = tracking.connect_client(settings.mlflow_uri)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / f"{pack.scope.tenant}-{pack.scope.as_of}"
        folder.mkdir()
        for path in paths:
            (folder / path.name).write_bytes(path.read_bytes())
        client.log_artifacts(pack.model.run_id, str(folder), "validation/" + folder.name)
    return paths
