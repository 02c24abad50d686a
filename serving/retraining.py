"""Retraining jobs: a bank's matured outcomes -> challenger -> gate -> its promotion policy.

The CLI (`precredit retrain`), the API (`POST /v1/models/retrain`) and the lending simulation
all call `submit` then `run`; the API runs jobs on a background thread, never in the request.
Training data: the bank's own matured loans; other banks' loans only when this bank and they
opted into pooling (`tenants.pooling_opt_in`), and then only in the training split.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from catalog.errors import NotFound, PrecreditError
from models.limit import LEGAL_BARS
from models.policy import ProductPolicy, default_policy
from serving.config import Settings
from serving.db import audit, jobs, policies, promotions, repo, tenants
from serving.db.models import Decision, Job, Tenant
from serving.db.outcomes import latest_start
from serving.decision.policies import default_product
from serving.errors import ApiError
from serving.monitor import references
from serving.monitor import run as monitoring
from training import maturing, metrics, promotion, tracking
from training.gate import GateConfig
from training.pipeline import SCORE_REFERENCE, PipelineConfig
from training.promotion import Approval, Override, PromotionRecord
from training.reject_inference import Method
from training.retrain import LOAN_COLUMNS, RetrainInput, loan_label, retrain

log = logging.getLogger(__name__)
KIND = "retrain"
DRIFT_WINDOW = dt.timedelta(days=30)
DRIFT_MIN_DECISIONS = 200


def loans_of(session: Session, tenant_id: str, as_of: dt.date) -> pd.DataFrame:
    """The tenant's matured loans as training rows (LOAN_COLUMNS)."""
    rows = repo.matured_outcomes(session, tenant_id, as_of)
    return pd.DataFrame(
        [
            (
                r.loan_id,
                r.tenant_id,
                r.uscc,
                r.application_date,
                r.granted_amount_cny,
                loan_label(r.default_flag, r.default_date, r.application_date),
                r.explore,
                r.default_date if r.default_flag else None,
                _history(r.dpd_history_json),
            )
            for r in rows
        ],
        columns=[*LOAN_COLUMNS, "explore", "default_date", "dpd_history"],
    )


def _history(stored: str | None) -> list[int] | None:
    """A stored DPD history (months on book, oldest first), None when the bank sent none."""
    return None if stored is None else [int(d) for d in json.loads(stored)]


def maturing_of(session: Session, tenant_id: str, as_of: dt.date) -> pd.DataFrame:
    """The tenant's loans younger than 12 months on `as_of`, as last observed by then.

    LOAN_COLUMNS with `label` 1 when a default was observed, and `months_observed`.
    """
    rows = [
        r for r in repo.maturing_outcomes(session, tenant_id, as_of) if r.observation_date <= as_of
    ]
    frame = pd.DataFrame(
        [
            (
                r.loan_id,
                r.tenant_id,
                r.uscc,
                r.application_date,
                r.granted_amount_cny,
                int(r.default_flag),
                r.explore,
                r.observation_date,
                r.default_date if r.default_flag else None,
                _history(r.dpd_history_json),
            )
            for r in rows
        ],
        columns=[*LOAN_COLUMNS, "explore", "observation_date", "default_date", "dpd_history"],
    )
    observed = maturing.months_between(frame["application_date"], frame["observation_date"])
    return frame.drop(columns="observation_date").assign(months_observed=observed)


def declines_of(session: Session, tenant_id: str, as_of: dt.date) -> pd.DataFrame:
    """The tenant's lawful declines whose 12 months after the decision had passed by `as_of`.

    One row per (credit code, snapshot date the decision read); declines for a legal bar
    (`models.limit.LEGAL_BARS`) are left out: no bank lends to them, so no model must rank them.
    """
    rows = session.execute(
        select(Decision.uscc, Decision.snapshot_as_of, Decision.binding)
        .where(
            Decision.tenant_id == tenant_id,
            Decision.decision == "decline",
            Decision.snapshot_as_of <= latest_start(as_of, 12),
        )
        .distinct()
    ).all()
    kept = sorted({(r.uscc, r.snapshot_as_of) for r in rows if r.binding not in LEGAL_BARS})
    return pd.DataFrame(kept, columns=["uscc", "as_of"])


def pooled_loans(session: Session, tenant: Tenant, as_of: dt.date) -> pd.DataFrame | None:
    """Other pooling banks' matured loans, only if this bank opted into pooling too."""
    if not tenant.pooling_opt_in:
        return None
    others = tenants.pooling_peers(session, tenant)
    frames = [loans_of(session, other, as_of) for other in others]
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else None


@dataclass(frozen=True)
class RetrainRequest:
    """Who asks to retrain which bank's model, why, on which day's data and with which seed."""

    tenant_id: str
    trigger: str  # on_demand, schedule, new_outcomes, drift
    requested_by: str
    as_of: dt.date | None = None  # default: today (UTC)
    seed: int = 42
    reject_inference: Method | None = None  # default: the setting


def submit(sessions: sessionmaker[Session], request: RetrainRequest) -> Job:
    """Queue a retraining (409 while one is queued or running for this tenant)."""
    with sessions() as session:
        tenant = repo.get_tenant(session, request.tenant_id)
        if tenant is None or tenant.platform:
            raise NotFound("no bank tenant with this id")
        day = request.as_of or dt.datetime.now(dt.UTC).date()
        job = jobs.JobRequest(request.tenant_id, KIND, request.trigger, request.requested_by)
        params = {"as_of": day.isoformat(), "seed": request.seed}
        if request.reject_inference is not None:
            params["reject_inference"] = request.reject_inference
        return jobs.submit(session, job, params)


def run(settings: Settings, sessions: sessionmaker[Session], job_id: str) -> dict[str, Any]:
    """Run a queued job to its end and record it; returns the job as the API shows it."""
    with sessions() as session:
        jobs.start(session, job_id)
        job = jobs.by_id(session, job_id)
        if job is None:
            raise NotFound("no such job")
    result, error = None, None
    try:
        result = _retrain(settings, sessions, job)
    except PrecreditError as failure:
        error = f"{failure.code}: {failure.message}"
    except Exception as failure:
        log.exception("retraining job %s failed", job_id)
        error = f"internal error ({type(failure).__name__}); see the service log"
    with sessions() as session:
        jobs.finish(session, job_id, result, error)
        done = jobs.by_id(session, job_id)
        assert done is not None
        return jobs.to_dict(done)


def _retrain(settings: Settings, sessions: sessionmaker[Session], job: Job) -> dict[str, Any]:
    params = json.loads(job.params_json)
    as_of = dt.date.fromisoformat(params["as_of"])
    with sessions() as session:
        tenant = repo.get_tenant(session, job.tenant_id)
        assert tenant is not None
        loans, pooled = loans_of(session, tenant.id, as_of), pooled_loans(session, tenant, as_of)
        declines = declines_of(session, tenant.id, as_of)
        young = maturing_of(session, tenant.id, as_of)
        auto = tenant.promotion_policy == "auto"
        policy = bank_policy(session, tenant.id)
    config = PipelineConfig(
        settings.store,
        settings.mlflow_uri,
        settings.artifact_root,
        seed=int(params.get("seed", settings.retrain_seed)),
        auto_promote=auto,
        min_own_defaults=settings.retrain_min_own_defaults,
        gate=GateConfig(max_ece=settings.retrain_max_ece),
        end=as_of,  # the platform model it may boost from: no later data
        actor=f"retrain job {job.id} ({job.trigger}, {job.requested_by})",
        requested_by=job.requested_by,
    )
    method = params.get("reject_inference", settings.retrain_reject_inference)
    labels = params.get("maturing", settings.retrain_maturing)
    job_input = RetrainInput(
        tenant.id,
        loans,
        pooled,
        job.trigger,
        config.actor,
        declines,
        reject_inference=method,
        maturing=young if labels != "none" else None,
        maturing_labels=labels if labels != "none" else "censoring",
    )
    outcome = retrain(job_input, config, policy)
    if outcome.promotion is not None:
        with sessions() as session:
            promotions.record(session, outcome.promotion)
            session.commit()
    pending = outcome.verdict.passed and not outcome.promoted
    return outcome.to_dict() | {
        "promotion": "promoted"
        if outcome.promoted
        else "pending_approval"
        if pending
        else "refused_by_gate",
        "matured_loans": len(loans),
    }


def bank_policy(session: Session, tenant_id: str) -> ProductPolicy | None:
    """The bank's own default product policy (None: it has uploaded none, the platform's)."""
    bank = policies.latest(session, tenant_id)
    product = default_product(bank, default_policy().product)
    return bank[product].policy if bank else None


@dataclass(frozen=True)
class PromoteRequest:
    """An approval as the API or the CLI received it: who (an authenticated key), what, why."""

    principal: repo.Principal
    version: str
    reason: str
    override_reason: str | None = None
    owner: str | None = None  # whose model (None: the key's tenant); operators: platform_public
    table: str | None = None  # one of the bank's own-table models (`precredit train --table`)


def promote(
    settings: Settings, sessions: sessionmaker[Session], request: PromoteRequest
) -> PromotionRecord:
    """The promotion rule (`training.promotion`) for a key, then the record in the database.

    A bank's admin promotes its own model; only an operator (`precredit operators add`)
    promotes the platform's.
    """
    principal = request.principal
    owner = request.owner or principal.tenant_id
    if principal.tenant_id == tenants.PLATFORM_ID and "operator" not in principal.scopes:
        raise ApiError(403, "forbidden", "only a platform operator promotes platform models")
    if owner != principal.tenant_id and not (
        owner == tracking.PUBLIC_OWNER and principal.tenant_id == tenants.PLATFORM_ID
    ):
        raise ApiError(403, "forbidden", "only a platform operator promotes platform models")
    if request.table is not None and owner in (tenants.PLATFORM_ID, tracking.PUBLIC_OWNER):
        raise ApiError(403, "forbidden", "table models belong to banks, not to the platform")
    override = None if request.override_reason is None else Override(request.override_reason)
    approval = Approval(repo.identity(principal), request.reason, override)
    client = tracking.connect(settings.mlflow_uri, settings.artifact_root)
    promoted = promotion.promote(client, owner, request.version, approval, request.table)
    with sessions() as session:
        promotions.record(session, promoted)
        session.commit()
    return promoted


def due(
    settings: Settings, sessions: sessionmaker[Session], tenant_id: str, as_of: dt.date
) -> list[str]:
    """Which triggers call for a retraining of this bank now (empty: none)."""
    with sessions() as session:
        last = jobs.latest(session, tenant_id, KIND)
        matured = len(repo.matured_outcomes(session, tenant_id, as_of))
        recent = _recent_pds(session, tenant_id, as_of)
    done_at = None if last is None else dt.date.fromisoformat(json.loads(last.params_json)["as_of"])
    trained_on = (
        0 if last is None else int(json.loads(last.result_json or "{}").get("matured_loans", 0))
    )
    fired = []
    if matured - trained_on >= settings.retrain_min_new_outcomes:
        fired.append("new_outcomes")
    if matured and (done_at is None or (as_of - done_at).days >= settings.retrain_every_days):
        fired.append("schedule")
    if _drifted(settings, tenant_id, as_of, recent):
        fired.append("drift")
    return fired


def _drifted(settings: Settings, tenant_id: str, as_of: dt.date, recent: np.ndarray) -> bool:
    """The latest monitoring result decides (`precredit monitor`); without a fresh one, the PDs' PSI."""
    signal = monitoring.drift_signal(settings.home, tenant_id, as_of, settings.monitor_max_age_days)
    if signal is not None:
        return signal
    psi = score_drift(settings, tenant_id, recent)
    return psi is not None and psi >= settings.retrain_drift_psi


def _recent_pds(session: Session, tenant_id: str, as_of: dt.date) -> np.ndarray:
    since = dt.datetime.combine(as_of, dt.time(), dt.UTC) - DRIFT_WINDOW
    return np.asarray(audit.pds_since(session, tenant_id, since), dtype=np.float64)


def score_drift(settings: Settings, tenant_id: str, recent: np.ndarray) -> float | None:
    """PSI of recently served PDs against the serving model's frozen training reference."""
    if len(recent) < DRIFT_MIN_DECISIONS:
        return None
    client = tracking.connect(settings.mlflow_uri, settings.artifact_root)
    version = None
    for owner in dict.fromkeys((tenant_id, "platform")):
        version = version or tracking.version_by_alias(client, owner, tracking.CHAMPION)
    if version is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        reference = references.review_file(client, version.run_id, SCORE_REFERENCE, Path(tmp))
    if reference is None:  # a model trained before references were kept
        return None
    edges = np.array([-np.inf, *reference["inner_edges"], np.inf])
    return metrics.psi(reference["pd_sample"], recent, edges)


class JobRunner:
    """Runs jobs on one background thread of the API process (one job at a time)."""

    def __init__(self, settings: Settings, sessions: sessionmaker[Session]) -> None:
        self.settings, self.sessions = settings, sessions
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="job")
        self._queued: dict[str, Future[dict[str, Any]]] = {}

    def start(self, job_id: str) -> None:
        """Run the job after the current one (the request returns at once)."""
        self._queued[job_id] = self._pool.submit(run, self.settings, self.sessions, job_id)

    def stop(self) -> None:
        """Stop taking jobs: queued ones fail with a reason, a running one is left to end."""
        for job_id, future in self._queued.items():
            if future.cancel():
                with self.sessions() as session:
                    jobs.finish(session, job_id, None, "the service stopped before the job started")
        self._pool.shutdown(wait=False)
