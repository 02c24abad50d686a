"""`/v1/disputes` over HTTP on SQLite and PostgreSQL: intake, deadlines, privacy, state machine.

Records come from the API home's real platform store (the tiny synthetic Shanwei platform);
deadlines are checked against the real working-day calendar.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

import pytest
from api_fixtures import ApiStacks, LiveApi
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from catalog import store
from platform_services import deadlines
from platform_services.repair import MIN_MONTHS, add_months
from serving.db import repo
from serving.disputes import cases
from serving.schemas import DisputeIn

EVIDENCE = hashlib.sha256(b"court ruling revoking the penalty").hexdigest()
TODAY = dt.datetime.now(dt.UTC).date()


@dataclass(frozen=True)
class Records:
    """Real records of the API home's store."""

    code: str  # an entity with a penalty
    penalty_id: str
    other_code: str  # another entity
    repairable: tuple[str, str]  # (code, record id) of a published penalty past its minimum
    too_young: tuple[str, str] | None  # a penalty before its minimum period, if any
    minor: tuple[str, str]  # a minor penalty: never repairable


@dataclass(frozen=True)
class Keys:
    """The platform's keys for these tests."""

    operator: str
    platform: str


@pytest.fixture(scope="module")
def records(api_stacks: ApiStacks) -> Records:
    """Penalties of the home store picked by what the tests need."""
    home = api_stacks.home
    with store.connect(home / "platform.duckdb", read_only=True) as con:
        latest = (
            "SELECT * FROM penalties p WHERE version = (SELECT max(version) FROM penalties q "
            "WHERE q.record_id = p.record_id) AND NOT coalesce(retracted, false)"
        )
        first = f"SELECT uscc, record_id FROM ({latest}) ORDER BY record_id LIMIT 1"
        code, penalty_id = con.execute(first).fetchone()
        other = con.execute(
            "SELECT uscc FROM entities WHERE uscc <> ? ORDER BY uscc LIMIT 1", [code]
        ).fetchone()[0]
        rows = con.execute(
            f"SELECT uscc, record_id, severity, decision_date, publicity_end, repair_date "
            f"FROM ({latest}) ORDER BY record_id"
        ).fetchall()
    return Records(code, penalty_id, other, *_by_eligibility(rows))


def _by_eligibility(
    rows: list[tuple[str, str, str, dt.date, dt.date, dt.date | None]],
) -> tuple[tuple[str, str], tuple[str, str] | None, tuple[str, str]]:
    ok, young, minor = [], [], []
    for code, record_id, severity, decided, publicity_end, repaired in rows:
        if severity == "minor":
            minor.append((code, record_id))
        elif repaired is None and publicity_end > TODAY:
            earliest = add_months(decided, MIN_MONTHS[severity])
            (ok if earliest <= TODAY else young).append((code, record_id))
    return ok[0], (young[0] if young else None), minor[0]


@pytest.fixture(scope="module")
def keys(live_api: LiveApi) -> Keys:
    """An operator key and the SME financing platform's key, on the platform's tenant."""
    with live_api.sessions() as session:
        operator = repo.issue_key(session, "platform", ["admin", "operator"], name="Operator")
        platform = repo.issue_key(session, "platform", ["platform"], name="SME platform")
        session.commit()
    return Keys(operator, platform)


def body(code: str, record_id: str, **changes: object) -> dict[str, object]:
    """A dispute of a penalty record."""
    return {
        "uscc": code,
        "record": {"table": "penalties", "record_id": record_id},
        "claim": "罚款已缴清，处罚决定已撤销\nthe fine was paid and the decision revoked",
        "evidence_sha256": EVIDENCE,
    } | changes


def test_a_dispute_is_due_in_two_working_days_and_only_its_filer_and_operators_see_it(
    live_api: LiveApi, records: Records, keys: Keys
) -> None:
    bank_a = live_api.client(live_api.keys.bank_a)
    response = bank_a.post("/v1/disputes", json=body(records.code, records.penalty_id))
    assert response.status_code == 201, response.text
    case = response.json()
    received = dt.datetime.fromisoformat(case["received_at"])
    try:
        expected: str | None = deadlines.due_date(received).isoformat()
    except deadlines.CalendarUnknown:
        expected = None
    assert (case["state"], case["due_date"], case["due_date_unknown"]) == (
        "received",
        expected,
        expected is None,
    )
    assert case["record"]["version"] >= 1
    assert case["record"]["department"]
    assert [(e["actor"], e["to_state"]) for e in case["events"]] == [("tenant:bank_a", "received")]
    url = f"/v1/disputes/{case['dispute_id']}"
    assert bank_a.get(url).json() == case | {"overdue": False}
    assert live_api.client(live_api.keys.bank_b).get(url).status_code == 404
    assert live_api.client(keys.platform).get(url).status_code == 404
    assert live_api.client(keys.operator).get(url).json()["dispute_id"] == case["dispute_id"]
    listed = {
        name: {c["dispute_id"] for c in live_api.client(key).get("/v1/disputes").json()["disputes"]}
        for name, key in (
            ("a", live_api.keys.bank_a),
            ("b", live_api.keys.bank_b),
            ("operator", keys.operator),
        )
    }
    assert case["dispute_id"] in listed["a"] & listed["operator"]
    assert case["dispute_id"] not in listed["b"]


def test_the_financing_platform_files_too_and_sees_only_its_own(
    live_api: LiveApi, records: Records, keys: Keys
) -> None:
    platform = live_api.client(keys.platform)
    created = platform.post("/v1/disputes", json=body(records.code, records.penalty_id))
    assert created.status_code == 201, created.text
    assert created.json()["filed_by"] == "platform"
    mine = platform.get("/v1/disputes").json()["disputes"]
    assert {c["filed_by"] for c in mine} == {"platform"}
    no_scope = live_api.client(live_api.keys.revoked_a).post(
        "/v1/disputes", json=body(records.code, records.penalty_id)
    )
    assert no_scope.status_code == 401


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"record": {"table": "entities", "record_id": "x"}}, "invalid_input"),
        ({"record": {"table": "penalties", "record_id": "NO-SUCH-RECORD-9"}}, "unknown_record"),
        ({"claim": "bad\x00claim"}, "invalid_input"),
        ({"claim": "bidi \u202e trick"}, "invalid_input"),
        ({"claim": "x" * 2001}, "invalid_input"),
        ({"claim": ""}, "invalid_input"),
        ({"evidence_sha256": "NOT-A-HASH"}, "invalid_input"),
        ({"evidence_sha256": EVIDENCE.upper()}, "invalid_input"),
        ({"reason": {"decision_id": "0" * 32, "feature": "tax_paid_cny_12m"}}, "invalid_input"),
        ({"record": None}, "invalid_input"),
        ({"kind": "appeal"}, "invalid_input"),
        ({"state": "corrected"}, "invalid_input"),
        ({"uscc": "91110000600037341N"}, "invalid_uscc"),
    ],
)
def test_bad_bodies_are_422_with_a_code_and_never_echoed(
    live_api: LiveApi, records: Records, change: dict[str, object], code: str
) -> None:
    response = live_api.client(live_api.keys.bank_a).post(
        "/v1/disputes", json=body(records.code, records.penalty_id, **change)
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == code
    for value in ("NO-SUCH-RECORD-9", "bad\x00claim", "NOT-A-HASH", "appeal", "x" * 50):
        assert value not in response.text


def test_a_record_of_another_entity_is_refused(live_api: LiveApi, records: Records) -> None:
    response = live_api.client(live_api.keys.bank_a).post(
        "/v1/disputes", json=body(records.other_code, records.penalty_id)
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "unknown_record"


def test_a_reason_cited_in_your_own_decision_can_be_disputed(
    live_api: LiveApi, records: Records
) -> None:
    bank_a = live_api.client(live_api.keys.bank_a)
    decision = bank_a.post("/v1/preapprovals", json={"uscc": records.code}).json()
    feature = decision["reasons"][0]["feature"]
    cited = {"decision_id": decision["decision_id"], "feature": feature}
    disputed = body(records.code, "", record=None, reason=cited)
    response = bank_a.post("/v1/disputes", json=disputed)
    assert response.status_code == 201, response.text
    assert response.json()["reason"] == cited
    assert response.json()["record"] is None
    theirs = live_api.client(live_api.keys.bank_b).post("/v1/disputes", json=disputed)
    assert theirs.status_code == 404
    uncited = body(records.code, "", record=None, reason=cited | {"feature": "not_a_reason"})
    refused = bank_a.post("/v1/disputes", json=uncited)
    assert (refused.status_code, refused.json()["error"]["code"]) == (422, "reason_not_cited")
    other = body(records.other_code, "", record=None, reason=cited)
    assert bank_a.post("/v1/disputes", json=other).json()["error"]["code"] == "reason_not_cited"


def test_the_state_machine_refuses_illegal_steps_with_409(
    live_api: LiveApi, records: Records, keys: Keys
) -> None:
    case = (
        live_api.client(live_api.keys.bank_a)
        .post("/v1/disputes", json=body(records.code, records.penalty_id))
        .json()
    )
    url = f"/v1/disputes/{case['dispute_id']}/state"
    operator = live_api.client(keys.operator)

    def step(state: str, answer: str = "核查中 / being checked") -> tuple[int, str]:
        response = operator.post(url, json={"state": state, "answer": answer})
        return response.status_code, response.json().get("error", {}).get("code", "")

    assert step("corrected") == (409, "illegal_transition")
    assert step("checking") == (200, "")
    assert step("checking") == (409, "illegal_transition")
    assert step("rejected", "记录无误 / the record is correct") == (200, "")
    assert step("checking") == (409, "illegal_transition")
    final = live_api.client(live_api.keys.bank_a).get(f"/v1/disputes/{case['dispute_id']}").json()
    assert (final["state"], final["answer"]) == ("rejected", "记录无误 / the record is correct")
    assert final["closed_at"] is not None
    assert [(e["from_state"], e["to_state"]) for e in final["events"]] == [
        (None, "received"),
        ("received", "checking"),
        ("checking", "rejected"),
    ]
    bank = live_api.client(live_api.keys.admin_a).post(
        url, json={"state": "checking", "answer": "x"}
    )
    assert bank.status_code == 403
    missing = operator.post("/v1/disputes/nope/state", json={"state": "checking", "answer": "x"})
    assert missing.status_code == 404


def test_the_audit_trail_is_append_only(live_api: LiveApi, records: Records) -> None:
    live_api.client(live_api.keys.bank_a).post(
        "/v1/disputes", json=body(records.code, records.penalty_id)
    )
    for statement in ("UPDATE dispute_events SET note = 'x'", "DELETE FROM dispute_events"):
        with pytest.raises(DBAPIError, match="append-only"), live_api.engine.begin() as connection:
            connection.execute(text(statement))


def test_a_repair_application_needs_a_penalty_past_its_minimum_period(
    live_api: LiveApi, records: Records
) -> None:
    bank_a = live_api.client(live_api.keys.bank_a)
    code, record_id = records.repairable
    repaired = bank_a.post("/v1/disputes", json=body(code, record_id, kind="repair"))
    assert repaired.status_code == 201, repaired.text
    assert repaired.json()["kind"] == "repair"
    refused = [records.minor] + ([records.too_young] if records.too_young else [])
    for code, record_id in refused:
        response = bank_a.post("/v1/disputes", json=body(code, record_id, kind="repair"))
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "not_repairable"


def test_a_retry_with_the_same_idempotency_key_files_one_case(
    live_api: LiveApi, records: Records, keys: Keys
) -> None:
    bank_a = live_api.client(live_api.keys.bank_a)
    key = {"Idempotency-Key": f"dispute-{dt.datetime.now(dt.UTC).timestamp()}"}
    disputed = body(records.code, records.penalty_id)
    first = bank_a.post("/v1/disputes", json=disputed, headers=key)
    again = bank_a.post("/v1/disputes", json=disputed, headers=key)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json()["dispute_id"] == first.json()["dispute_id"]
    every = live_api.client(keys.operator).get("/v1/disputes").json()["disputes"]
    assert [c["dispute_id"] for c in every].count(first.json()["dispute_id"]) == 1
    other = bank_a.post("/v1/disputes", json=disputed | {"claim": "another claim"}, headers=key)
    assert (other.status_code, other.json()["error"]["code"]) == (422, "idempotency_key_reused")
    refused = bank_a.post(
        "/v1/disputes",
        json=body(records.code, "NO-SUCH-RECORD-9"),
        headers={"Idempotency-Key": key["Idempotency-Key"] + "-bad"},
    )
    assert refused.json()["error"]["code"] == "unknown_record"
    retried = bank_a.post(  # a refused request leaves its key free for a corrected retry
        "/v1/disputes", json=body(records.code, "NO-SUCH-RECORD-9"),
        headers={"Idempotency-Key": key["Idempotency-Key"] + "-bad"},
    )  # fmt: skip
    assert retried.json()["error"]["code"] == "unknown_record"


def test_overdue_cases_are_listed_to_their_filer_and_operators(
    live_api: LiveApi, records: Records, keys: Keys
) -> None:
    received = dt.datetime(2026, 9, 29, 2, 0, tzinfo=dt.UTC)  # due 2026-10-08
    lookup = cases.store_lookup(live_api.home / "platform.duckdb")
    with live_api.sessions.begin() as session:
        filed = DisputeIn.model_validate(body(records.code, records.penalty_id))
        case_id = cases.file_case(session, lookup, "bank_a", filed, received).id
    late = {
        name: live_api.client(key).get("/v1/disputes", params={"overdue": "true"}).json()
        for name, key in (
            ("a", live_api.keys.bank_a),
            ("b", live_api.keys.bank_b),
            ("operator", keys.operator),
        )
    }
    mine = {c["dispute_id"]: c for c in late["a"]["disputes"]}
    assert (mine[case_id]["due_date"], mine[case_id]["overdue"]) == ("2026-10-08", True)
    assert all(c["overdue"] for c in late["operator"]["disputes"])
    assert case_id in {c["dispute_id"] for c in late["operator"]["disputes"]}
    assert case_id not in {c["dispute_id"] for c in late["b"]["disputes"]}
