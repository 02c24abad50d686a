"""Financing requests from the SME platform over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from api_fixtures import LiveApi
from sqlalchemy import func, select

from catalog import uscc
from serving.db import repo
from serving.db.models import Decision

REQUEST = {"amount_cny": 400_000.0, "term_months": 12, "purpose": "working capital 流动资金"}


@pytest.fixture
def platform_key(live_api: LiveApi) -> str:
    """A key with the `platform` scope for the platform's own tenant; bank_a opted in only."""
    with live_api.sessions() as session:
        key = repo.issue_key(session, "platform", ["platform"])
        for bank, opted in (("bank_a", True), ("bank_b", False)):
            tenant = repo.get_tenant(session, bank)
            assert tenant is not None
            tenant.financing_opt_in = opted
        session.commit()
    return key


def decisions_of(api: LiveApi, tenant: str) -> int:
    """How many decisions a tenant has in the audit."""
    with api.sessions() as session:
        return int(session.scalar(select(func.count()).where(Decision.tenant_id == tenant)) or 0)


def test_opted_in_banks_answer_and_the_platform_reads_them_back(
    live_api: LiveApi, platform_key: str
) -> None:
    code = live_api.codes[3]
    before = decisions_of(live_api, "bank_a"), decisions_of(live_api, "bank_b")
    platform = live_api.client(platform_key)
    response = platform.post("/v1/financing-requests", json={"uscc": code, **REQUEST})
    assert response.status_code == 201, response.text
    created = response.json()
    assert [a["bank"] for a in created["answers"]] == ["bank_a"]
    [answer] = created["answers"]
    assert answer["status"] == 200
    body = answer["body"]
    assert body["uscc"] == code
    assert body["decision"] in {"approve", "refer", "decline"}
    assert body["reasons"]
    assert (decisions_of(live_api, "bank_a"), decisions_of(live_api, "bank_b")) == (
        before[0] + 1,
        before[1],
    )
    stored = live_api.client(live_api.keys.bank_a).get(f"/v1/decisions/{answer['decision_id']}")
    assert stored.status_code == 200
    assert stored.json()["limit_cny"] == body["limit_cny"]
    again = platform.get(f"/v1/financing-requests/{created['request_id']}")
    assert again.json() == created


def test_each_bank_sees_only_requests_routed_to_it(live_api: LiveApi, platform_key: str) -> None:
    platform = live_api.client(platform_key)
    created = platform.post(
        "/v1/financing-requests", json={"uscc": live_api.codes[4], **REQUEST}
    ).json()
    mine = live_api.client(live_api.keys.bank_a).get("/v1/financing-requests").json()["requests"]
    assert created["request_id"] in {r["request_id"] for r in mine}
    assert {r["answer"]["bank"] for r in mine} == {"bank_a"}
    theirs = live_api.client(live_api.keys.bank_b).get("/v1/financing-requests").json()["requests"]
    assert created["request_id"] not in {r["request_id"] for r in theirs}
    # a bank can neither send requests nor read the platform's view
    bank = live_api.client(live_api.keys.bank_a)
    assert (
        bank.post("/v1/financing-requests", json={"uscc": live_api.codes[4], **REQUEST}).status_code
        == 403
    )
    assert bank.get(f"/v1/financing-requests/{created['request_id']}").status_code == 403


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"term_months": 0}, 422),
        ({"amount_cny": -1.0}, 422),
        ({"purpose": "a\x01b"}, 422),
        ({"uscc": "91441500MA4XXXXX1X"}, 422),
        ({"extra": 1}, 422),
        ({"uscc": uscc.build("9", "1", "110101", "MA01YY00")}, 404),
    ],
)
def test_bad_requests_are_refused_and_store_nothing(
    live_api: LiveApi, platform_key: str, change: dict[str, object], status: int
) -> None:
    before = decisions_of(live_api, "bank_a")
    body = {"uscc": live_api.codes[5], **REQUEST, **change}
    response = live_api.client(platform_key).post("/v1/financing-requests", json=body)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"]
    assert decisions_of(live_api, "bank_a") == before


def test_any_bank_reads_an_entitys_public_credit_grade(live_api: LiveApi) -> None:
    code = live_api.codes[6]
    answers = [
        live_api.client(k).get(f"/v1/entities/{code}/evaluation")
        for k in (live_api.keys.bank_a, live_api.keys.bank_b)
    ]
    assert [a.status_code for a in answers] == [200, 200]
    assert answers[0].json() == answers[1].json()  # tenant-neutral
    graded = answers[0].json()
    assert graded["uscc"] == code
    assert graded["grade"] in {"A", "B", "C", "D"}
    assert abs(sum(graded["dimensions"].values()) - graded["score"]) < 1.0 or graded["cap"]
    assert all(r["zh"] and r["en"] for r in graded["reasons"])
    assert live_api.client().get(f"/v1/entities/{code}/evaluation").status_code == 401
    missing = live_api.client(live_api.keys.bank_a).get(
        f"/v1/entities/{uscc.build('9', '1', '110101', 'MA01YY00')}/evaluation"
    )
    assert missing.status_code == 404
