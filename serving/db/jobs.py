"""Background jobs: submitted, claimed, finished; never two active of one kind per tenant."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from catalog.errors import Conflict, InvalidInput
from serving.db.models import Job, new_id, utcnow

TRIGGERS = ("on_demand", "schedule", "new_outcomes", "drift", "simulation")
STALE_AFTER = dt.timedelta(hours=6)  # a running job older than this died with its process


@dataclass(frozen=True)
class JobRequest:
    """Who asks for which kind of job, for which tenant, and why (one of TRIGGERS)."""

    tenant_id: str
    kind: str
    trigger: str
    requested_by: str


def submit(session: Session, request: JobRequest, params: dict[str, Any]) -> Job:
    """Queue a job (committed); Conflict (409) while one of that kind is active for the tenant."""
    tenant_id, kind, trigger = request.tenant_id, request.kind, request.trigger
    if trigger not in TRIGGERS:
        raise InvalidInput(f"unknown trigger (known: {', '.join(TRIGGERS)})")
    _fail_stale(session, tenant_id, kind)
    job = Job(
        id=new_id(),
        tenant_id=tenant_id,
        kind=kind,
        trigger=trigger,
        status="queued",
        requested_by=request.requested_by[:200],
        active_key=f"{tenant_id}:{kind}",
        params_json=json.dumps(params, sort_keys=True),
        created_at=utcnow(),
    )
    session.add(job)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise Conflict(f"a {kind} job is already queued or running for this tenant") from None
    return job


def start(session: Session, job_id: str) -> None:
    """Mark a queued job running (committed)."""
    session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == "queued")
        .values(status="running", started_at=utcnow())
    )
    session.commit()


def finish(session: Session, job_id: str, result: dict[str, Any] | None, error: str | None) -> None:
    """Record the end of a job and release its tenant's slot (committed)."""
    session.execute(
        update(Job)
        .where(Job.id == job_id)
        .values(
            status="failed" if error else "succeeded",
            finished_at=utcnow(),
            active_key=None,
            result_json=None if result is None else json.dumps(result, sort_keys=True),
            error=None if error is None else error[:2000],
        ),
    )
    session.commit()


def by_id(session: Session, job_id: str) -> Job | None:
    """A job by id, whoever owns it (for the job runner)."""
    return session.get(Job, job_id)


def get(session: Session, tenant_id: str, job_id: str) -> Job | None:
    """The tenant's job; another tenant's id gives None, exactly like a missing one."""
    job = session.get(Job, job_id)
    return job if job is not None and job.tenant_id == tenant_id else None


def latest(session: Session, tenant_id: str, kind: str, status: str = "succeeded") -> Job | None:
    """The tenant's most recent job of a kind in a status."""
    return session.scalars(
        select(Job)
        .where(Job.tenant_id == tenant_id, Job.kind == kind, Job.status == status)
        .order_by(Job.created_at.desc())
        .limit(1)
    ).first()


def to_dict(job: Job) -> dict[str, Any]:
    """The job as the API answers it."""
    when = {
        k: None if v is None else v.isoformat()
        for k, v in (
            ("created_at", job.created_at),
            ("started_at", job.started_at),
            ("finished_at", job.finished_at),
        )
    }
    return {
        "job_id": job.id,
        "kind": job.kind,
        "trigger": job.trigger,
        "status": job.status,
        "requested_by": job.requested_by,
        **when,
        "params": json.loads(job.params_json),
        "result": None if job.result_json is None else json.loads(job.result_json),
        "error": job.error,
    }


def _fail_stale(session: Session, tenant_id: str, kind: str) -> None:
    """Release the slot of a job whose process died (running or queued for STALE_AFTER)."""
    cutoff = utcnow() - STALE_AFTER
    session.execute(
        update(Job)
        .where(
            Job.tenant_id == tenant_id,
            Job.kind == kind,
            Job.active_key.is_not(None),
            Job.created_at < cutoff,
        )
        .values(
            status="failed",
            finished_at=utcnow(),
            active_key=None,
            error="abandoned: its process stopped before it finished",
        ),
    )
