"""Impossible outcomes are refused precisely; linked outcomes must be the bank's own."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from api_fixtures import LiveApi
from sqlalchemy import select

from serving.db.models import Outcome
from serving.outcome_checks import today


def outcome(code: str, **changes: Any) -> dict[str, Any]:
    """A possible outcome with a fresh loan id, changed by `changes`."""
    return {
        "loan_id": f"L-{uuid.uuid4().hex[:12]}",
        "uscc": code,
        "application_date": "2024-03-01",
        "granted_amount_cny": 500_000.0,
        "drawn_amount_cny": 300_000.0,
        "default_flag": False,
        "observation_date": "2025-03-01",
        "dpd_history": [0, 0, 30, 61, 30],
        "max_dpd": 61,
    } | changes


TOMORROW = (today() + dt.timedelta(days=1)).isoformat()
IMPOSSIBLE = [
    (
        {"default_flag": True, "default_date": "2024-01-15"},
        "default_date is before application_date",
    ),
    ({"drawn_amount_cny": 600_000.0}, "drawn_amount_cny exceeds granted_amount_cny"),
    ({"application_date": "1989-12-31"}, "application_date 1989-12-31 is before 1990-01-01"),
    ({"observation_date": TOMORROW}, f"observation_date {TOMORROW} is after today"),
    ({"dpd_history": [0, 90, 0]}, "dpd_history[1] rises by more than 31 days"),
    ({"dpd_history": [0, 30, 61, 95]}, "dpd_history[3] rises by more than 31 days"),
    ({"max_dpd": 30}, "max_dpd is below the largest value of dpd_history"),
    ({"default_flag": True}, "a default needs its default_date"),
    ({"default_date": "2024-06-01"}, "default_date given for a loan not in default"),
    (
        {"default_flag": True, "default_date": "2025-06-01"},
        "default_date is after observation_date",
    ),
]


def stored_loans(api: LiveApi, loan_ids: list[str]) -> int:
    with api.sessions() as session:
        return len(session.scalars(select(Outcome.id).where(Outcome.loan_id.in_(loan_ids))).all())


@pytest.mark.parametrize(("changes", "message"), IMPOSSIBLE)
def test_each_impossible_outcome_is_refused(
    live_api: LiveApi, changes: dict[str, Any], message: str
) -> None:
    bank = live_api.client(live_api.keys.bank_a)
    good, bad = outcome(live_api.codes[0]), outcome(live_api.codes[1], **changes)
    response = bank.post("/v1/outcomes", json={"outcomes": [good, bad]})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_input"
    assert f"item 1 (loan {bad['loan_id']}): " in error["message"]
    assert message in error["message"]
    assert "item 0" not in error["message"]
    assert stored_loans(live_api, [good["loan_id"], bad["loan_id"]]) == 0  # nothing half-stored
    assert bank.post("/v1/outcomes", json=good).status_code == 200  # the possible one alone


def test_linked_outcomes_must_be_the_banks_own(live_api: LiveApi) -> None:
    code = live_api.codes[2]
    mine = live_api.client(live_api.keys.bank_a)
    decision = mine.post("/v1/preapprovals", json={"uscc": code}).json()["decision_id"]
    linked = outcome(code, decision_id=decision)
    assert mine.post("/v1/outcomes", json=linked).status_code == 200
    with live_api.sessions() as session:
        row = session.scalars(select(Outcome).where(Outcome.loan_id == linked["loan_id"])).one()
    assert row.decision_id == decision
    theirs = live_api.client(live_api.keys.bank_b)
    for field, value in (
        ("decision_id", decision),
        ("offer_id", str(uuid.uuid4())),
        ("financing_request_id", str(uuid.uuid4())),
    ):
        response = theirs.post("/v1/outcomes", json={"outcomes": [outcome(code, **{field: value})]})
        assert response.status_code == 404, response.text
        assert response.json()["error"]["message"].startswith("item 0 (loan L-")
    assert (
        theirs.post("/v1/outcomes", json=outcome(code, decision_id="not-an-id")).status_code == 422
    )


def test_realised_performance_by_decision_model_and_product(live_api: LiveApi) -> None:
    bank = live_api.client(live_api.keys.bank_a)
    answer = bank.post("/v1/preapprovals", json={"uscc": live_api.codes[5]}).json()
    defaulted = outcome(
        live_api.codes[5],
        decision_id=answer["decision_id"],
        default_flag=True,
        default_date="2024-09-01",
    )
    assert bank.post("/v1/outcomes", json=defaulted).status_code == 200
    report = bank.get("/v1/outcomes/performance", params={"horizon_months": 12})
    assert report.status_code == 200, report.text
    keys = ("decision", answer["model"]["version"], answer["product"], answer["policy_version"])
    [row] = [
        r
        for r in report.json()["rows"]
        if (r["source"], r["model_version"], r["product"], r["policy_version"]) == keys
        and r["decision"] == answer["decision"]
    ]
    assert row["loans"] >= 1
    assert row["bads"] >= 1
    assert bank.get("/v1/outcomes/performance", params={"horizon_months": 0}).status_code == 422


def test_an_unusual_loan_id_is_withheld_from_the_refusal(sqlite_api: LiveApi) -> None:
    bank = sqlite_api.client(sqlite_api.keys.bank_a)
    odd = outcome(sqlite_api.codes[0], loan_id="L<script>", drawn_amount_cny=900_000.0)
    response = bank.post("/v1/outcomes", json={"outcomes": [odd]})
    assert response.status_code == 422
    message = response.json()["error"]["message"]
    assert "item 0 (loan id withheld: unusual characters)" in message
    assert "<script>" not in message
