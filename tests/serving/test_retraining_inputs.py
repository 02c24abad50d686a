"""What retraining reads from the service database, on SQLite and PostgreSQL: test loans,
lawful declines whose 12 months have passed, and loans still maturing as observed by then."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from serving import retraining
from serving.db import repo

AS_OF = dt.date(2025, 6, 30)


@pytest.fixture
def bank(session: Session) -> str:
    repo.create_tenant(session, "bank_a", "Bank A")
    repo.create_tenant(session, "bank_b", "Bank B")
    session.commit()
    return "bank_a"


def decline(session: Session, tenant: str, code: str, day: dt.date, binding: str) -> None:
    """A decline of `code` read from the snapshot of `day`, for the reason `binding`."""
    repo.record_decision(
        session,
        tenant_id=tenant,
        uscc=code,
        product="sme_credit",
        requested_amount_cny=None,
        decision="decline",
        limit_cny=0.0,
        pd=0.2,
        grade="G09",
        binding=binding,
        model_name="precredit-platform",
        model_version="1",
        model_sha256="a" * 64,
        policy_version="sme_credit@1",
        policy_fingerprint="b" * 64,
        registry_fingerprint="c" * 64,
        snapshot_as_of=day,
        input_hash="d" * 64,
        features_json="{}",
        reasons_json="[]",
        response_json="{}",
    )


def test_declines_are_lawful_matured_and_the_tenants_own(session: Session, bank: str) -> None:
    old, young = dt.date(2024, 6, 1), dt.date(2024, 9, 1)
    decline(session, bank, "A", old, "pd:decline")
    decline(session, bank, "A", old, "pd:decline")  # asked twice on one snapshot: one row
    decline(session, bank, "B", old, "gate:court_debtor")  # a legal bar: never lent to
    decline(session, bank, "C", old, "gate:no_tax_paid")
    decline(session, bank, "D", young, "pd:decline")  # 12 months not yet passed
    decline(session, "bank_b", "E", old, "pd:decline")
    session.commit()
    declines = retraining.declines_of(session, bank, AS_OF)
    assert declines.to_dict("records") == [
        {"uscc": "A", "as_of": old},
        {"uscc": "C", "as_of": old},
    ]


def test_test_loans_and_maturing_loans_are_read_as_observed(session: Session, bank: str) -> None:
    base = {"uscc": "91440300MA5FXXXX1X", "granted_amount_cny": 1e5, "drawn_amount_cny": 1e5}
    loans: list[repo.OutcomeFields] = [
        base | {"loan_id": "old", "application_date": dt.date(2024, 1, 15),  # type: ignore[list-item]
                "default_flag": False, "observation_date": dt.date(2025, 1, 15), "explore": True},
        base | {"loan_id": "young", "application_date": dt.date(2025, 1, 10),
                "default_flag": False, "observation_date": dt.date(2025, 6, 10),
                "dpd_history_json": "[0, 0, 35, 0, 0]"},
        base | {"loan_id": "young_bad", "application_date": dt.date(2024, 12, 1),
                "default_flag": True, "default_date": dt.date(2025, 5, 1),
                "observation_date": dt.date(2025, 6, 1)},
        base | {"loan_id": "seen_later", "application_date": dt.date(2025, 2, 1),
                "default_flag": False, "observation_date": dt.date(2025, 7, 31)},
    ]  # fmt: skip
    for fields in loans:
        repo.upsert_outcome(session, bank, fields)
    session.commit()
    matured = retraining.loans_of(session, bank, AS_OF)
    assert matured[["loan_id", "explore"]].to_dict("records") == [
        {"loan_id": "old", "explore": True}
    ]
    young = retraining.maturing_of(session, bank, AS_OF)
    assert young[["loan_id", "label", "months_observed", "explore"]].to_dict("records") == [
        {"loan_id": "young_bad", "label": 1, "months_observed": 6.0, "explore": False},
        {"loan_id": "young", "label": 0, "months_observed": 5.0, "explore": False},
    ]
    assert young["dpd_history"].tolist() == [None, [0, 0, 35, 0, 0]]  # as the bank sent it
    assert matured["dpd_history"].tolist() == [None]
