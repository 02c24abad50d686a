"""Health, readiness, Prometheus metrics, and the tenant's models."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from catalog.errors import ModelUnavailable
from serving.decision.model_store import PLATFORM
from serving.deps import ScorePrincipal, ServicesDep
from serving.errors import documented
from serving.monitor import run as monitoring
from serving.responses import Health, Models, Readiness
from training import tracking

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="The process is up", response_model=Health)
def healthz() -> dict[str, str]:
    """Liveness: answers as long as the process serves HTTP."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Model loaded and databases reachable",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "Not ready: the failing checks"}},
)
def readyz(services: ServicesDep, response: Response) -> dict[str, Any]:
    """Readiness: 200 only when a model is loaded, the snapshot and the service DB answer."""
    checks = {
        "snapshot": services.snapshot.ready(),
        "service_db": _db_ok(services),
        "model": _model_ok(services),
    }
    response.status_code = 200 if all(checks.values()) else 503
    return {"ready": all(checks.values()), "checks": checks}


def _db_ok(services: Any) -> bool:
    try:
        with services.sessions() as session:
            session.execute(text("SELECT 1"))
        return True
    except SQLAlchemyError:
        return False


def _model_ok(services: Any) -> bool:
    try:
        services.models.get(PLATFORM)
        return True
    except ModelUnavailable:
        return False


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={
        200: {
            "description": "Prometheus text format",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    },
)
def metrics(services: ServicesDep) -> Response:
    """Requests, latency, decisions, models in service, and each tenant's latest monitoring."""
    services.metrics.models([(m.name, m.version) for m in services.models.loaded()])
    services.metrics.monitoring(monitoring.latest_all(services.settings.home))
    return Response(services.metrics.render(), media_type="text/plain; version=0.0.4")


@router.get(
    "/v1/models",
    summary="The tenant's champion and challenger with their metrics",
    response_model=Models,
    responses=documented(401, 403, 503),
)
def models(principal: ScorePrincipal, services: ServicesDep) -> dict[str, Any]:
    """What serves this bank now, and what is waiting for promotion."""
    served = services.models.get(principal.tenant_id)
    owner = served.name.removeprefix("precredit-")  # the bank's own model, or the platform's
    client = tracking.connect_client(services.settings.mlflow_uri)
    out: dict[str, Any] = {
        "serving": {
            "name": served.name,
            "version": served.version,
            "fingerprint": served.fingerprint,
        }
    }
    for alias in (tracking.CHAMPION, tracking.CHALLENGER):
        version = tracking.version_by_alias(client, owner, alias)
        out[alias] = (
            None
            if version is None
            else {
                "name": served.name,
                "version": str(version.version),
                "metrics": _metrics(client, str(version.run_id)),
                "tags": dict(version.tags or {}),
            }
        )
    return out


def _metrics(client: Any, run_id: str) -> dict[str, float]:
    keep = ("auc", "ks", "brier", "ece", "auc_scorecard", "auc_incumbent_rule", "n_rows")
    data = client.get_run(run_id).data.metrics
    return {k: float(data[k]) for k in keep if k in data}
