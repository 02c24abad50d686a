"""Figures the console reads from the service database and the home: cases, monitoring.

Disputes are the operator's view of `GET /v1/disputes` (every case, `cases.answer`) and the
figures of `precredit disputes report`; monitoring is each tenant's latest `precredit monitor`
result, with the plots of its report (`serving.monitor.render.plots`).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from serving.db import disputes as rows
from serving.disputes import cases
from serving.disputes.report import report

if TYPE_CHECKING:
    from serving.monitor.result import MonitoringResult


def disputes(session: Session, now: dt.datetime) -> dict[str, Any]:
    """The report's figures, then the cases as the API lists them (open and overdue first)."""
    listed = [cases.answer(session, case, now) for case in rows.list_cases(session, None)]
    listed.sort(key=lambda c: (c["closed_at"] is not None, not c["overdue"], c["due_date"] or ""))
    return {"report": report(rows.all_cases(session), now).to_dict(), "cases": listed}


def _model(result: MonitoringResult, index: int) -> dict[str, Any]:
    model = result.models[index]
    return {
        "name": model.name,
        "version": model.version,
        "serving": model.serving,
        "score_psi": {
            name: None if scope.score is None else round(scope.score.psi, 4)
            for name, scope in model.scopes.items()
        },
        "score_level": {
            name: None if scope.score is None else scope.score.level
            for name, scope in model.scopes.items()
        },
        "matured_loans": model.performance.matured_loans,
        "auc": model.performance.auc,
        "grades": [g.model_dump() for g in model.performance.grades],
    }


def monitoring(home: Path) -> dict[str, Any]:
    """Every tenant's latest monitoring: findings, retraining signal, models, plot names."""
    from serving.monitor import run as monitor_run  # pandas, MLflow: only when asked
    from serving.monitor.render import plots  # matplotlib: only when asked

    return {
        "tenants": [
            {
                "tenant": result.tenant,
                "as_of": result.as_of,
                "alerts": result.summary.alert,
                "warnings": result.summary.warn,
                "retrain": result.retrain.model_dump(),
                "models": [_model(result, i) for i in range(len(result.models))],
                "plots": sorted(plots(result)),
            }
            for result in monitor_run.latest_all(home)
        ]
    }


def plot(home: Path, tenant: str, name: str) -> bytes | None:
    """One plot of a tenant's latest monitoring report; None when there is no such plot."""
    from serving.monitor import run as monitor_run
    from serving.monitor.render import plots

    result = monitor_run.latest(home, tenant) if tenant.isidentifier() else None
    draw = None if result is None else plots(result).get(name)
    return None if draw is None else draw()


def grade_drift(home: Path) -> list[dict[str, Any]]:
    """The serving model of each monitored tenant: score PSI and realised rates per grade."""
    return [
        {"tenant": tenant["tenant"], "as_of": tenant["as_of"], **model}
        for tenant in monitoring(home)["tenants"]
        for model in tenant["models"]
        if model["serving"]
    ]
