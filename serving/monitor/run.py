"""Model and data monitoring per tenant and model version (see docs/monitoring.md).

`run` compares every model version that served the tenant in the window, and the one serving
it now, with the references frozen when that version was trained:
- stability: PSI of each feature and of the score on (a) the tenant's recent decisions and
  (b) the platform snapshot's open entities scored by that version (the whole market);
- realised performance by vintage as the tenant's outcomes mature (AUC, bad rate by grade);
- the decision mix over time (approve / refer / decline by week or month);
- realised performance of the loans the bank linked to a decision, offer or financing answer,
  by source, model version, product, policy version and decision (as `/v1/outcomes/performance`).

`write` renders the report and keeps the result as `<home>/monitoring/<tenant>/latest.json`.
`/metrics` (the alert gauges) and the retraining trigger read that file; they never recompute.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from sqlalchemy.orm import Session, sessionmaker

from catalog.errors import NotFound, PrecreditError
from serving.config import Settings
from serving.db import repo
from serving.db.linked import linked_loans
from serving.decision.model_store import PLATFORM
from serving.monitor import inputs as monitor_inputs
from serving.monitor import references
from serving.monitor import render as monitoring_report
from serving.monitor.result import (
    DecisionMix,
    Finding,
    LinkedRow,
    MixRow,
    ModelMonitoring,
    MonitoringResult,
    Performance,
    RetrainSignal,
    Served,
    Summary,
    Thresholds,
    Window,
)
from training import drift, metrics, performance, tracking

log = logging.getLogger(__name__)
LATEST = "latest.json"
HISTORY_DAYS = 400  # the decision mix looks back about a year
LINK_HORIZON = 12  # months: a linked loan counts once its first year is observed (as the API)


def thresholds(settings: Settings) -> drift.Thresholds:
    """The PSI levels and minimum rows in force."""
    return drift.Thresholds(
        settings.monitor_psi_warn, settings.monitor_psi_alert, settings.monitor_min_rows
    )


def results_dir(home: Path, tenant_id: str) -> Path:
    """Where a tenant's reports and latest result live."""
    return home / "monitoring" / tenant_id


@dataclass(frozen=True)
class Inputs:
    """The populations one run compares: recent decisions, the market, matured loans."""

    recent: pd.DataFrame
    market: pd.DataFrame
    loans: pd.DataFrame
    limits: drift.Thresholds


def run(
    settings: Settings, sessions: sessionmaker[Session], tenant_id: str, as_of: dt.date
) -> MonitoringResult:
    """Monitor one tenant on `as_of` (kept as `monitor.json`).

    The window and the decision-mix period are `settings.monitor_window_days` and
    `settings.monitor_mix_period` (the CLI's `--window-days`/`--period` override them).
    """
    days = settings.monitor_window_days
    start, end = monitor_inputs.window(as_of, days)
    with sessions() as session:
        _check_tenant(session, tenant_id)
        recent = monitor_inputs.recent_decisions(
            session, tenant_id, start, end, settings.monitor_max_rows
        )
        history = monitor_inputs.decision_history(
            session, tenant_id, end - dt.timedelta(HISTORY_DAYS), end
        )
        loans = monitor_inputs.matured_loans(session, tenant_id, as_of)
        linked = performance.by_decision(linked_loans(session, tenant_id, as_of, LINK_HORIZON))
    client = tracking.connect_client(settings.mlflow_uri)
    served = _serving_version(client, tenant_id)
    market, snapshot_day = monitor_inputs.market(settings.store)
    inputs = Inputs(
        recent, market, monitor_inputs.loan_features(settings.store, loans), thresholds(settings)
    )
    models = _models(settings, client, served, inputs)
    mix_period = settings.monitor_mix_period
    alerts = _alerts(models)
    return MonitoringResult(
        tenant=tenant_id,
        as_of=as_of.isoformat(),
        generated_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        window=Window(start=start.isoformat(), end=end.isoformat(), days=days),
        snapshot_as_of=snapshot_day.isoformat() if snapshot_day else None,
        thresholds=Thresholds.model_validate(inputs.limits.to_dict()),
        serving=None if served is None else Served(name=served[0], version=served[1]),
        models=models,
        decision_mix=DecisionMix(
            period=mix_period,
            rows=[MixRow.model_validate(r) for r in performance.decision_mix(history, mix_period)],
        ),
        linked=[LinkedRow.model_validate(row) for row in linked],
        alerts=alerts,
        summary=Summary(
            alert=sum(a.level == "alert" for a in alerts),
            warn=sum(a.level == "warn" for a in alerts),
        ),
        retrain=_retrain(settings, models),
    )


def _check_tenant(session: Session, tenant_id: str) -> None:
    known = repo.get_tenant(session, tenant_id)
    if tenant_id != PLATFORM and known is None:
        raise NotFound(f"no tenant {tenant_id!r} in the service database")


def _serving_version(client: MlflowClient, tenant_id: str) -> tuple[str, str] | None:
    """The tenant's champion, else the platform's (as the model store serves it)."""
    for owner in dict.fromkeys((tenant_id, PLATFORM)):
        version = tracking.version_by_alias(client, owner, tracking.CHAMPION)
        if version is not None:
            return tracking.model_name(owner), str(version.version)
    return None


def _versions(served: tuple[str, str] | None, recent: pd.DataFrame) -> list[tuple[str, str]]:
    """The serving version first, then every version that answered in the window (most used first)."""
    used = recent.groupby(["model_name", "model_version"]).size().sort_values(ascending=False)
    return list(dict.fromkeys([*([served] if served else []), *used.index.tolist()]))


def _models(
    settings: Settings, client: MlflowClient, served: tuple[str, str] | None, inputs: Inputs
) -> list[ModelMonitoring]:
    """Every version to monitor; one that cannot be loaded any more is logged and left out."""
    out = []
    for key in _versions(served, inputs.recent):
        try:
            out.append(_model(settings, client, key, key == served, inputs))
        except (MlflowException, PrecreditError) as error:
            log.warning("%s v%s left out of monitoring: %s", *key, error)
    return out


def _model(
    settings: Settings, client: MlflowClient, key: tuple[str, str], serving: bool, inputs: Inputs
) -> ModelMonitoring:
    """Stability and realised performance of one model version."""
    recent, market, loans, limits = inputs.recent, inputs.market, inputs.loans, inputs.limits
    monitored = references.load(client, *key)
    mine = recent[(recent["model_name"] == key[0]) & (recent["model_version"] == key[1])]
    market_pd = monitored.model.predict_proba(market) if len(market) else np.array([])
    scopes = {
        "decisions": drift.scope(monitored.features, monitored.score, mine, mine["pd"], limits),
        "market": drift.scope(monitored.features, monitored.score, market, market_pd, limits),
    }
    return ModelMonitoring.model_validate(
        monitored.describe()
        | {"serving": serving, "scopes": scopes, "performance": _performance(monitored, loans)}
    )


def _performance(monitored: references.Monitored, loans: pd.DataFrame) -> Performance:
    """The version's PD on each matured loan (point in time), by vintage and by grade."""
    if loans.empty:
        return Performance(
            matured_loans=0, bads=0, auc=None, vintages=[], grades=[], grade_vintage=[]
        )
    model = monitored.model
    pds = model.predict_proba(loans)
    scored = loans.assign(pd=pds, grade=model.scale.grade(pds), grade_label=model.scale.label(pds))
    bads = int(scored["label"].sum())
    through = (monitored.features or {}).get("as_of_last")
    return Performance.model_validate(
        {
            "matured_loans": len(scored),
            "bads": bads,
            "auc": metrics.auc(scored["label"], pds) if 0 < bads < len(scored) else None,
            "vintages": performance.by_vintage(scored, through),
            "grades": performance.by_grade(scored),
            "grade_vintage": performance.grade_by_vintage(scored),
        }
    )


def _alerts(models: list[ModelMonitoring]) -> list[Finding]:
    """Every warn and alert row, with the model version and scope it belongs to."""
    return [
        Finding(
            model=m.name,
            model_version=m.version,
            scope=name,
            feature=row.feature,
            psi=row.psi,
            level=row.level,
        )
        for m in models
        for name, scope in m.scopes.items()
        for row in scope.flagged()
    ]


def _retrain(settings: Settings, models: list[ModelMonitoring]) -> RetrainSignal:
    """Whether drift calls for a retraining of the serving version (decisions first, else market)."""
    serving = next((m for m in models if m.serving), None)
    scopes = serving.scopes if serving else {}
    usable = [(name, s) for name, s in scopes.items() if s.status == "ok" and s.score]
    if not usable:
        return RetrainSignal(drift=False, reason="no population with enough rows and a reference")
    name, scope = usable[0]
    score = scope.score.psi if scope.score else 0.0
    alerts = sum(r.level == "alert" for r in scope.features)
    needed = settings.monitor_retrain_feature_alerts
    return RetrainSignal(
        drift=score >= settings.retrain_drift_psi or 0 < needed <= alerts,
        scope=name,
        score_psi=score,
        feature_alerts=alerts,
        reason=f"{name}: score PSI {score:.3f} (retrain at {settings.retrain_drift_psi}), "
        f"{alerts} feature alert(s) (retrain at {needed or 'off'})",
    )


def write(result: MonitoringResult, out: Path, home: Path) -> list[Path]:
    """Write report.md, plots and monitor.json to `out`; keep monitor.json as the tenant's latest."""
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, content in monitoring_report.render(result).items():
        path = out / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        paths.append(path)
    latest_path = results_dir(home, result.tenant) / LATEST
    latest_path.parent.mkdir(parents=True, exist_ok=True)
    staging = latest_path.with_suffix(".json.tmp")
    staging.write_text(result.model_dump_json())
    staging.replace(latest_path)  # readers never see half a file
    return paths


def latest(home: Path, tenant_id: str) -> MonitoringResult | None:
    """The tenant's latest monitoring result, if any (unreadable or outdated: None)."""
    path = results_dir(home, tenant_id) / LATEST
    try:
        return MonitoringResult.model_validate_json(path.read_bytes())
    except (OSError, ValueError):
        return None


def latest_all(home: Path) -> list[MonitoringResult]:
    """Every tenant's latest monitoring result (unreadable files are skipped)."""
    found = (latest(home, p.parent.name) for p in sorted((home / "monitoring").glob(f"*/{LATEST}")))
    return [r for r in found if r is not None]


def drift_signal(home: Path, tenant_id: str, as_of: dt.date, max_age_days: int) -> bool | None:
    """The latest result's drift verdict for the retraining trigger; None if absent or stale."""
    result = latest(home, tenant_id)
    if result is None:
        return None
    age = (as_of - dt.date.fromisoformat(result.as_of)).days
    return result.retrain.drift if 0 <= age <= max_age_days else None
