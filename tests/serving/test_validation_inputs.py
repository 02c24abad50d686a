"""What the validation pack reads from the service database, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from serving.db import linked, repo
from serving.db.outcomes import OutcomeFields, upsert_outcome
from serving.validation import inputs

CODE = "91440000MA4UQWXP5L"


def _loan(loan_id: str, applied: dt.date, observed: dt.date, **extra: object) -> OutcomeFields:
    fields: OutcomeFields = {
        "loan_id": loan_id,
        "uscc": CODE,
        "application_date": applied,
        "granted_amount_cny": 100_000.0,
        "drawn_amount_cny": 90_000.0,
        "default_flag": False,
        "observation_date": observed,
    }
    return fields | extra  # type: ignore[return-value]


def test_only_matured_loans_are_read_labelled_and_hashed(session: Session) -> None:
    repo.create_tenant(session, "bank_a", "Bank A")
    repo.create_tenant(session, "bank_b", "Bank B")
    upsert_outcome(session, "bank_a", _loan("a1", dt.date(2023, 1, 5), dt.date(2024, 1, 31)))
    late = {"default_flag": True, "default_date": dt.date(2024, 6, 1)}  # after 12 months: good
    upsert_outcome(session, "bank_a", _loan("a2", dt.date(2023, 2, 1), dt.date(2024, 7, 1), **late))
    early = {"default_flag": True, "default_date": dt.date(2023, 9, 1), "decision_id": "d-1"}
    upsert_outcome(
        session, "bank_a", _loan("a3", dt.date(2023, 3, 1), dt.date(2023, 9, 2), **early)
    )
    upsert_outcome(session, "bank_a", _loan("a4", dt.date(2024, 3, 1), dt.date(2024, 9, 1)))
    upsert_outcome(session, "bank_b", _loan("b1", dt.date(2023, 1, 5), dt.date(2024, 1, 31)))
    session.commit()
    loans = inputs.loans(session, "bank_a", dt.date(2024, 6, 30))
    assert loans["loan_id"].tolist() == ["a1", "a2", "a3"]  # a4 is immature, b1 another bank's
    assert loans["label"].tolist() == [0, 0, 1]
    assert loans["decision_id"].tolist()[2] == "d-1"
    again = inputs.loans(session, "bank_a", dt.date(2024, 6, 30))
    assert inputs.data_hash(loans) == inputs.data_hash(again)
    assert inputs.data_hash(loans) != inputs.data_hash(loans.iloc[:2])
    made = linked.preapprovals(session, "bank_a", loans)  # d-1 names no stored decision
    assert made.index.equals(loans.index)
    assert made["source"].isna().all()
    assert made["limit_cny"].isna().all()
    assert loans[["offer_id", "financing_request_id"]].isna().all().all()
