"""What monitoring reads: a tenant's decisions, its matured loans, and the platform snapshot.

Decisions carry the model inputs they were scored on (`features_json`), so the served
population is read back exactly. Loans are scored again point in time: features as of each
application date, from the same feature SQL as training and serving. The market is the
feature snapshot's open entities (deregistered ones are outside every model's population).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pandas as pd
from sqlalchemy.orm import Session

from catalog import store
from features import snapshot
from features.compute import compute
from platform_services.evaluation.table import exists
from serving.db import audit, repo
from training.retrain import loan_label


def window(as_of: dt.date, days: int) -> tuple[dt.datetime, dt.datetime]:
    """The `days` whole UTC days ending with `as_of`, as [start, end)."""
    end = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time(), dt.UTC)
    return end - dt.timedelta(days=days), end


def recent_decisions(
    session: Session, tenant_id: str, start: dt.datetime, end: dt.datetime, limit: int
) -> pd.DataFrame:
    """The tenant's newest decisions in [start, end) (at most `limit`): model, pd and inputs."""
    rows = audit.newest_decisions(session, tenant_id, start, end, limit)
    features = pd.DataFrame.from_records([json.loads(r.features_json) for r in rows])
    meta = pd.DataFrame(
        {
            "model_name": [r.model_name for r in rows],
            "model_version": [r.model_version for r in rows],
            "pd": [float(r.pd) for r in rows],
        }
    )
    return pd.concat([meta, features.astype("float64")], axis=1)


def decision_history(
    session: Session, tenant_id: str, since: dt.datetime, end: dt.datetime
) -> pd.DataFrame:
    """Every decision of the tenant in [since, end): when, what, and which model."""
    rows = audit.decisions_between(session, tenant_id, since, end)
    return pd.DataFrame(
        {
            "created_at": [r.created_at for r in rows],
            "decision": [r.decision for r in rows],
            "model": [f"{r.model_name} v{r.model_version}" for r in rows],
        }
    )


def matured_loans(session: Session, tenant_id: str, as_of: dt.date) -> pd.DataFrame:
    """The tenant's loans whose 12-month window has been observed by `as_of`, labelled."""
    rows = repo.matured_outcomes(session, tenant_id, as_of)
    return pd.DataFrame(
        {
            "uscc": [r.uscc for r in rows],
            "application_date": pd.to_datetime([r.application_date for r in rows]),
            "label": [loan_label(r.default_flag, r.default_date, r.application_date) for r in rows],
        },
        columns=["uscc", "application_date", "label"],
    )


def loan_features(store_path: Any, loans: pd.DataFrame) -> pd.DataFrame:
    """Loans with their features as of each application date (point in time), same order."""
    if loans.empty:
        return loans
    with store.connect(store_path, read_only=True) as con:
        features = compute(
            con, pd.DataFrame({"uscc": loans["uscc"], "as_of": loans["application_date"]})
        )
    return pd.concat(
        [loans.reset_index(drop=True), features.drop(columns=["uscc", "as_of"])], axis=1
    )


def market(store_path: Any) -> tuple[pd.DataFrame, dt.date | None]:
    """The snapshot's open entities (every feature) and the snapshot's date."""
    with store.connect(store_path, read_only=True) as con:
        if not exists(con, snapshot.TABLE):
            return pd.DataFrame(), None
        frame = con.execute(f"SELECT * FROM {snapshot.TABLE}").df()
        day = snapshot.snapshot_date(con) if len(frame) else None
    if "reg_deregistered" in frame:
        frame = frame[frame["reg_deregistered"].fillna(0) == 0].reset_index(drop=True)
    return frame, day
