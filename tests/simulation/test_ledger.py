"""The ledger's reports of loans still maturing: as observed on the round date, nothing later."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from simulation.ledger import Ledger, interim_body

DAY = dt.date(2024, 7, 1)


def loans() -> pd.DataFrame:
    """Four loans of bank_a: matured, defaulted before DAY, defaulting after DAY, drawn after DAY."""
    return pd.DataFrame(
        {
            "bank": "bank_a",
            "loan_id": ["matured", "early_bad", "late_bad", "future"],
            "uscc": "91440300MA5FXXXX1X",
            "application_date": [
                dt.date(2023, 5, 1),
                dt.date(2024, 1, 5),
                dt.date(2024, 2, 1),
                dt.date(2024, 8, 1),
            ],
            "observation_date": [
                dt.date(2024, 5, 1),
                dt.date(2025, 1, 5),
                dt.date(2025, 2, 1),
                dt.date(2025, 8, 1),
            ],
            "amount_cny": 1e5,
            "explore": [False, True, False, False],
            "default_flag": [False, True, True, False],
            "default_date": [None, dt.date(2024, 6, 1), dt.date(2024, 11, 1), None],
            "max_dpd": [0, 120, 95, 0],
        }
    )


def test_maturing_loans_are_reported_as_seen_on_the_day() -> None:
    ledger = Ledger()
    ledger.add(loans())
    young = ledger.maturing("bank_a", DAY)
    assert young["loan_id"].tolist() == ["early_bad", "late_bad"]
    body = {item["loan_id"]: item for item in interim_body(young, DAY)}
    assert body["early_bad"]["default_flag"] is True
    assert body["early_bad"]["default_date"] == "2024-06-01"
    assert body["early_bad"]["explore"] is True
    assert body["late_bad"]["default_flag"] is False  # its default comes after the day
    assert "default_date" not in body["late_bad"]
    assert {item["observation_date"] for item in body.values()} == {"2024-07-01"}
    assert ledger.maturing("bank_b", DAY).empty
