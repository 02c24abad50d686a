"""Registered model versions as a bank or operator reads them: alias, metrics, gate, source.

Every registered model whose name starts with `precredit-`: the tenants' PD models
(`precredit-<tenant>`, trained on the platform label or on a bank's outcomes) and table models
(`precredit-<tenant>-table-<slug>`). The tenant and the source come from the run's tags and
parameters, not from the name (a tenant id may hold a hyphen).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import asdict, dataclass

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

PREFIX = "precredit-"
PAGE = 1000


@dataclass(frozen=True)
class VersionRow:
    """One registered version."""

    name: str
    version: str
    tenant: str
    source: str  # platform, outcomes or table
    aliases: list[str]
    auc: float | None
    ece: float | None
    gate_passed: bool | None
    created: str  # ISO 8601, UTC
    run_id: str

    def to_dict(self) -> dict[str, object]:
        """JSON-ready."""
        return asdict(self)


def list_versions(client: MlflowClient, tenant: str | None = None) -> list[VersionRow]:
    """Every version of every precredit model (of `tenant` only, if given), newest first per name."""
    rows = [row for name in _names(client) for row in _versions(client, name)]
    if tenant is not None:
        rows = [row for row in rows if row.tenant == tenant]
    return sorted(rows, key=lambda r: (r.name, -int(r.version)))


def _names(client: MlflowClient) -> list[str]:
    """Names of the registered precredit models."""
    names: list[str] = []
    token = None
    while True:
        page = client.search_registered_models(
            filter_string=f"name LIKE '{PREFIX}%'", max_results=PAGE, page_token=token
        )
        names += [model.name for model in page]
        token = page.token
        if not token:
            return names


def _versions(client: MlflowClient, name: str) -> list[VersionRow]:
    """The versions of one registered model, with their runs' tags, metrics and source."""
    out = []
    aliases = client.get_registered_model(name).aliases  # search results carry no aliases
    for version in client.search_model_versions(f"name = '{name}'"):
        try:
            run = client.get_run(str(version.run_id))
        except MlflowException:
            continue  # a version whose run was deleted: nothing to show for it
        metrics, tags = run.data.metrics, run.data.tags
        gate = metrics.get("gate_passed")
        created = dt.datetime.fromtimestamp(version.creation_timestamp / 1000, dt.UTC)
        out.append(
            VersionRow(
                name,
                str(version.version),
                tags.get("tenant", name.removeprefix(PREFIX)),
                run.data.params.get("label", tags.get("label", "unknown")),
                sorted(a for a, v in aliases.items() if str(v) == str(version.version)),
                _number(metrics.get("auc")),
                _number(metrics.get("ece")),
                None if gate is None else gate == 1.0,
                created.isoformat(),
                str(version.run_id),
            )
        )
    return out


def _number(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else float(value)
