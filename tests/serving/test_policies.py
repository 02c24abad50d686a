"""Banks' own product policies over the real API, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from api_fixtures import LiveApi
from sqlalchemy import select

from models import wording
from serving.db import repo
from serving.db.models import Decision

CAPPED = """
version: "2026.1"
caps_cny: {enterprise: 40000, individual: 40000, cooperative: 40000, rural_collective: 40000}
rate_band: {G01: 0.035, G02: 0.04, G03: 0.045, G04: 0.05, G05: 0.055, G06: 0.06, G07: 0.07,
            G08: 0.08, G09: 0.09, G10: 0.1}
"""
OPEN = "version: '2026.1'\nmin_limit_cny: 1000.0\n"
OPEN_TOML = 'version = "2026.1"\nmin_limit_cny = 1000.0\n'


@dataclass(frozen=True)
class Bank:
    """A fresh bank of this test: its id, an admin key and a score-only key."""

    tenant: str
    admin: httpx.Client
    scorer: httpx.Client


@pytest.fixture
def banks(live_api: LiveApi) -> Iterator[tuple[Bank, Bank]]:
    """Two new banks (no policy yet), opted out of financing again afterwards."""
    made = []
    with live_api.sessions() as session:
        for _ in range(2):
            tenant = f"pol_{uuid.uuid4().hex[:10]}"
            repo.create_tenant(session, tenant, tenant)
            admin = repo.issue_key(session, tenant, ["score", "outcomes", "admin"])
            scorer = repo.issue_key(session, tenant, ["score", "outcomes"])
            made.append(Bank(tenant, live_api.client(admin), live_api.client(scorer)))
        session.commit()
    yield made[0], made[1]
    with live_api.sessions() as session:
        for bank in made:
            tenant_row = repo.get_tenant(session, bank.tenant)
            assert tenant_row is not None
            tenant_row.financing_opt_in = False
        session.commit()


def put(bank: Bank, product: str, text: str, toml: bool = False) -> httpx.Response:
    kind = "application/toml" if toml else "application/yaml"
    return bank.admin.put(f"/v1/policies/{product}", content=text, headers={"content-type": kind})


def approved_code(api: LiveApi, bank: Bank, above: float) -> str:
    """A code the platform's default policy gives a limit above `above` for this bank."""
    for code in api.codes:
        body = bank.scorer.post("/v1/preapprovals", json={"uscc": code}).json()
        if body.get("limit_cny", 0.0) > above:
            return code
    pytest.fail("no entity in the tiny snapshot has a limit above the cap")


def test_a_policy_is_versioned_listed_and_used(live_api: LiveApi, banks: tuple[Bank, Bank]) -> None:
    bank, other = banks
    code = approved_code(live_api, bank, 40_000.0)
    first = put(bank, "sme_credit", CAPPED)
    assert first.status_code == 200, first.text
    assert (first.json()["version"], first.json()["created"]) == (1, True)
    assert put(bank, "sme_credit", CAPPED).json() | {} == first.json() | {"created": False}
    second = put(bank, "sme_credit", OPEN_TOML, toml=True).json()
    assert (second["version"], second["policy_version"]) == (2, "sme_credit@2")
    assert second["fingerprint"] != first.json()["fingerprint"]
    capped = put(bank, "sme_credit", CAPPED).json()
    assert capped["version"] == 3
    listed = bank.scorer.get("/v1/policies").json()["policies"]
    assert [(p["product"], p["version"]) for p in listed] == [("sme_credit", 3)]
    answer = bank.scorer.post("/v1/preapprovals", json={"uscc": code}).json()
    assert 0 < answer["limit_cny"] <= 40_000.0
    assert answer["policy_version"] == "sme_credit@3"
    assert answer["policy_fingerprint"] == capped["fingerprint"]
    assert answer["indicative_rate"] == capped["policy"]["rate_band"][answer["grade_label"]]
    with live_api.sessions() as session:
        row = session.scalars(select(Decision).where(Decision.id == answer["decision_id"])).one()
    assert (row.policy_version, row.policy_fingerprint) == ("sme_credit@3", capped["fingerprint"])
    replay = bank.scorer.post(f"/v1/decisions/{answer['decision_id']}/replay").json()
    assert replay["identical"] is True
    # another bank sees none of it and keeps the platform's default policy
    assert other.scorer.get("/v1/policies").json() == {"policies": []}
    theirs = other.scorer.post("/v1/preapprovals", json={"uscc": code}).json()
    assert theirs["limit_cny"] > 40_000.0
    assert theirs["policy_fingerprint"] != capped["fingerprint"]


def test_several_products_and_unknown_ones(live_api: LiveApi, banks: tuple[Bank, Bank]) -> None:
    bank, other = banks
    code = live_api.codes[0]
    assert put(bank, "sme_credit", OPEN).status_code == 200
    assert put(bank, "tax_loan", CAPPED).status_code == 200
    products = [p["product"] for p in bank.scorer.get("/v1/policies").json()["policies"]]
    assert products == ["sme_credit", "tax_loan"]
    answer = bank.scorer.post("/v1/preapprovals", json={"uscc": code, "product": "tax_loan"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["policy_version"] == "tax_loan@1"
    # the other bank cannot use this bank's product
    refused = other.scorer.post("/v1/preapprovals", json={"uscc": code, "product": "tax_loan"})
    assert (refused.status_code, refused.json()["error"]["code"]) == (422, "invalid_input")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("version: '1'\ngates: {excluded_tax_grades: [C, Z]}\n", "gates.excluded_tax_grades"),
        ("version: '1'\ndecision: {approve_max_pd: 0.2, refer_max_pd: 0.1}\n", "decision: "),
        ("version: '1'\nrate_band: {G01: 0.9}\n", "rate_band.G01"),
        ("version: '1'\ncapacity: {per_head: 1}\n", "capacity.per_head"),
        ("gates: {}\n", "version: Field required"),
        ("version: [unclosed\n", "invalid YAML at line"),
        ("- a list\n", "must be a mapping"),
    ],
)
def test_invalid_policies_are_refused_precisely(
    banks: tuple[Bank, Bank], text: str, message: str
) -> None:
    bank, _ = banks
    response = put(bank, "sme_credit", text)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid_input"
    assert message in response.json()["error"]["message"]
    assert "unclosed" not in response.json()["error"]["message"]  # the file is never echoed
    assert bank.scorer.get("/v1/policies").json() == {"policies": []}


def test_uploading_needs_the_admin_scope(banks: tuple[Bank, Bank]) -> None:
    bank, _ = banks
    response = bank.scorer.put("/v1/policies/sme_credit", content=OPEN)
    assert response.status_code == 403
    assert bank.admin.put("/v1/policies/Bad-Name", content=OPEN).status_code == 422


def test_two_banks_answer_one_financing_request_under_their_own_policies(
    live_api: LiveApi, banks: tuple[Bank, Bank]
) -> None:
    bank, other = banks
    code = approved_code(live_api, bank, 40_000.0)
    assert put(bank, "sme_credit", OPEN).status_code == 200
    assert put(other, "sme_credit", CAPPED).status_code == 200
    with live_api.sessions() as session:
        for tenant in (bank.tenant, other.tenant):
            row = repo.get_tenant(session, tenant)
            assert row is not None
            row.financing_opt_in = True
        platform_key = repo.issue_key(session, "platform", ["platform"])
        session.commit()
    request = {"uscc": code, "amount_cny": 10_000_000.0, "term_months": 12, "purpose": "设备"}
    created = live_api.client(platform_key).post("/v1/financing-requests", json=request)
    assert created.status_code == 201, created.text
    answers = {a["bank"]: a["body"] for a in created.json()["answers"]}
    ours, theirs = answers[bank.tenant], answers[other.tenant]
    assert ours["limit_cny"] > 40_000.0 >= theirs["limit_cny"]
    assert ours["policy_fingerprint"] != theirs["policy_fingerprint"]
    assert theirs["policy_version"] == "sme_credit@1"


def test_declines_lead_with_their_gate_in_words(live_api: LiveApi) -> None:
    bank = live_api.client(live_api.keys.bank_a)
    for code in live_api.codes:
        response = bank.post("/v1/preapprovals", json={"uscc": code})
        body = response.json()
        if body.get("failed_gates"):
            break
    else:
        pytest.fail("no entity of the tiny snapshot fails a gate")
    zh, en = wording.gate_texts(body["failed_gates"][0])
    assert body["decline_reasons"][0] == {"text_zh": zh, "text_en": en}
    keys = list(body)
    assert keys.index("decline_reasons") < keys.index("reasons")  # before any PD reason
    assert body["limit_explained"]["text_en"] == "declined: limit CNY 0"
