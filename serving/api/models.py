"""`/v1/models` operations (admin scope): retraining jobs, promotion, picking up a new alias."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from catalog.errors import InvalidInput, NotFound
from serving import retraining
from serving.db import jobs, repo
from serving.deps import AdminPrincipal, ReaderDep, ServicesDep
from serving.errors import documented
from serving.responses import Job, Promoted, Refreshed, ValidationReport
from serving.schemas import PromoteIn, RetrainIn
from serving.validation.files import latest as latest_pack
from training import tracking

router = APIRouter(tags=["models"])


@router.post(
    "/v1/models/retrain",
    status_code=202,
    summary="Retrain on this bank's matured outcomes (a background job)",
    response_model=Job,
    responses=documented(401, 403, 404, 409, 413, 422),
)
def retrain(
    body: RetrainIn, principal: AdminPrincipal, services: ServicesDep, response: Response
) -> dict[str, Any]:
    """Queue the job and return at once (202, `Location` names it); 409 while one runs."""
    request = retraining.RetrainRequest(
        principal.tenant_id,
        "on_demand",
        repo.identity(principal),
        body.as_of,
        services.settings.retrain_seed,
    )
    job = retraining.submit(services.sessions, request)
    services.jobs.start(job.id)
    response.headers["Location"] = f"/v1/jobs/{job.id}"
    return jobs.to_dict(job)


@router.get(
    "/v1/jobs/{job_id}",
    summary="A job's status and result",
    response_model=Job,
    responses=documented(401, 403, 404),
)
def job_status(job_id: str, principal: AdminPrincipal, session: ReaderDep) -> dict[str, Any]:
    """Another bank's job is answered exactly like a missing one (404)."""
    job = jobs.get(session, principal.tenant_id, job_id[:64])
    if job is None:
        raise NotFound("no such job")
    return jobs.to_dict(job)


@router.post(
    "/v1/models/promote",
    summary="Approve a challenger: it becomes the champion",
    response_model=Promoted,
    responses=documented(401, 403, 404, 409, 413, 422, 503),
)
def promote(body: PromoteIn, principal: AdminPrincipal, services: ServicesDep) -> dict[str, Any]:
    """Gate passed (else 409 `gate_failed`, unless `override_reason`), recorded, served now.

    The approver is this key; it must differ from the key that requested the retraining
    (else 403 `same_person`). Platform models: operators only; `public_records_only` promotes
    the public-records-only platform model. With `table`, the bank's model
    of its own table (`precredit train --table --tenant`) is promoted by the same rule. On PostgreSQL every other API
    process hears of it at commit (LISTEN/NOTIFY); on SQLite, at its next poll.
    """
    if body.public_records_only and body.table is not None:
        raise InvalidInput("public_records_only and table name two different models: send one")
    owner = tracking.PUBLIC_OWNER if body.public_records_only else None
    request = retraining.PromoteRequest(
        principal, body.version, body.reason, body.override_reason, owner, body.table
    )
    record = retraining.promote(services.settings, services.sessions, request)
    if body.table is not None:
        services.table_models.refresh()
        table = services.table_models.get(principal.tenant_id, body.table)
        return {
            "serving": {"name": table.name, "version": table.version},
            "promotion": record.to_dict(),
        }
    services.models.refresh()
    served = (
        services.models.public()
        if body.public_records_only
        else services.models.get(principal.tenant_id)
    )
    return {
        "serving": {"name": served.name, "version": served.version},
        "promotion": record.to_dict(),
    }


@router.post(
    "/v1/models/refresh",
    summary="Pick up moved aliases and a rewritten snapshot now",
    response_model=Refreshed,
    responses=documented(401, 403),
)
def refresh(principal: AdminPrincipal, services: ServicesDep) -> dict[str, Any]:
    """The target for a registry webhook; without one, the poll does the same every interval."""
    return {
        "models_changed": services.models.refresh() + services.table_models.refresh(),
        "snapshot_reloaded": services.snapshot.reload_if_changed(),
    }


@router.get(
    "/v1/models/{version}/validation",
    summary="The newest validation pack of a model version on this bank's data",
    response_model=ValidationReport,
    responses=documented(401, 403, 404),
)
def validation_pack(version: str, principal: AdminPrincipal, services: ServicesDep) -> Any:
    """Written by `precredit validate` (docs/validation.md); this bank's own packs only.

    `version` is a version of the bank's own model, else of the platform model serving it.
    """
    pack = None
    if version.isdigit() and len(version) <= 9:
        pack = latest_pack(services.settings.home, principal.tenant_id, version)
    if pack is None:
        raise NotFound("no validation pack for this model version: run precredit validate")
    return pack.model_dump(mode="json")
