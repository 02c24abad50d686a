"""What the validation pack reads: a bank's matured loans, their decisions, and the store."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pandas as pd
from sqlalchemy.orm import Session

from catalog import store
from features.compute import compute
from serving.db.outcomes import matured_outcomes
from training.dataset import HORIZON_MONTHS
from training.retrain import loan_label

LOAN_COLUMNS = [
    "loan_id", "uscc", "application_date", "label", "granted_amount_cny",
    "decision_id", "offer_id", "financing_request_id",
]  # fmt: skip


def loans(session: Session, tenant_id: str, as_of: dt.date) -> pd.DataFrame:
    """The tenant's matured loans by `as_of`, labelled, oldest first."""
    rows = matured_outcomes(session, tenant_id, as_of, HORIZON_MONTHS)
    records = [
        (r.loan_id, r.uscc, pd.Timestamp(r.application_date),
         loan_label(r.default_flag, r.default_date, r.application_date),
         float(r.granted_amount_cny), r.decision_id, r.offer_id, r.financing_request_id)
        for r in rows
    ]  # fmt: skip
    return pd.DataFrame.from_records(records, columns=LOAN_COLUMNS)


def features_at(store_path: Path, codes: pd.Series, dates: pd.Series) -> pd.DataFrame:
    """Model inputs of each (code, date) pair, point in time, in the given order."""
    with store.connect(store_path, read_only=True) as con:
        computed = compute(con, pd.DataFrame({"uscc": codes.to_numpy(), "as_of": dates.to_numpy()}))
    return computed.reset_index(drop=True)


def data_hash(frame: pd.DataFrame) -> str:
    """SHA-256 of the loans a pack was computed on (loan, code, date, label, amount)."""
    subset = frame[["loan_id", "uscc", "application_date", "label", "granted_amount_cny"]]
    return hashlib.sha256(subset.to_csv(index=False).encode()).hexdigest()
