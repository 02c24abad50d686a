"""Every endpoint over HTTP against a real uvicorn server, on SQLite and on PostgreSQL.

The server (`live_api`, conftest.py) serves a promoted platform model on a 1,000-entity store;
bank_a and bank_b are tenants with their own keys. Each test uses fresh loan ids and
idempotency keys, so the tests share one server per database without meeting.
"""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from api_fixtures import MAX_BATCH, LiveApi
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from trained_home import SNAPSHOT_DATE

from catalog import uscc
from catalog.errors import InvalidUSCC
from serving.db.models import Decision, IdempotencyKey, Outcome

UNKNOWN_CODE = uscc.build("9", "1", "110101", "MA01YY00")  # valid, but not a Shanwei entity
DECISIONS = {"approve", "refer", "decline"}


def fresh(prefix: str) -> str:
    """A unique id for this test's loans and idempotency keys."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def outcome(loan_id: str, code: str, **overrides: Any) -> dict[str, Any]:
    """A valid outcome report for one loan."""
    body = {
        "loan_id": loan_id,
        "uscc": code,
        "application_date": "2025-01-10",
        "granted_amount_cny": 200_000.0,
        "drawn_amount_cny": 150_000.0,
        "default_flag": False,
        "max_dpd": 0,
        "dpd_history": [0, 0, 0],
        "observation_date": "2025-06-30",
    }
    return body | overrides


def preapprove(api: LiveApi, key: str, code: str, **extra: Any) -> dict[str, Any]:
    """POST one pre-approval and return its 200 answer."""
    response = api.client(key).post("/v1/preapprovals", json={"uscc": code, **extra})
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def error_code(response: httpx.Response) -> str:
    """The `error.code` of an error body (which must also carry a message)."""
    error = response.json()["error"]
    assert error["message"]
    return str(error["code"])


# --- pre-approvals and the decisions they leave ---------------------------------------------


def test_preapproval_answers_with_an_explained_decision(live_api: LiveApi) -> None:
    answer = preapprove(
        live_api, live_api.keys.bank_a, live_api.codes[1], requested_amount_cny=100_000.0
    )
    assert answer["uscc"] == live_api.codes[1]
    assert uuid.UUID(answer["decision_id"]).version == 4
    assert answer["decision"] in DECISIONS
    assert answer["limit_cny"] >= 0
    if answer["decision"] == "decline":
        assert answer["limit_cny"] == 0
        assert answer["approved_amount_cny"] is None
    else:
        assert answer["approved_amount_cny"] == min(100_000.0, answer["limit_cny"])
    assert 0 < answer["pd"] < 1
    assert answer["grade_label"].startswith("G")
    assert answer["binding"]
    assert answer["snapshot_as_of"] == SNAPSHOT_DATE.isoformat()
    assert answer["model"]["name"] == "precredit-platform"
    assert answer["model"]["version"] == "1"
    assert len(answer["model"]["fingerprint"]) == 64
    assert answer["reasons"]
    for reason in answer["reasons"]:
        assert reason["text_en"]
        assert reason["text_en"].isascii()
        assert any("\u4e00" <= char <= "\u9fff" for char in reason["text_zh"])
        assert reason["direction"] in {"raises_risk", "lowers_risk"}


def test_unknown_valid_code_is_404_unknown_entity(live_api: LiveApi) -> None:
    assert UNKNOWN_CODE not in live_api.codes
    response = live_api.client(live_api.keys.bank_a).post(
        "/v1/preapprovals", json={"uscc": UNKNOWN_CODE}
    )
    assert response.status_code == 404
    assert error_code(response) == "unknown_entity"


def test_stored_decision_equals_the_answer_and_replays_identically(live_api: LiveApi) -> None:
    answer = preapprove(
        live_api, live_api.keys.bank_a, live_api.codes[2], requested_amount_cny=50_000.0
    )
    client = live_api.client(live_api.keys.bank_a)
    stored = client.get(f"/v1/decisions/{answer['decision_id']}")
    assert stored.status_code == 200
    body = stored.json()
    assert body.pop("created_at")
    assert body == answer
    replay = client.post(f"/v1/decisions/{answer['decision_id']}/replay")
    assert replay.status_code == 200
    assert replay.json()["identical"] is True
    assert replay.json()["replayed"]["limit_cny"] == answer["limit_cny"]


def test_another_banks_decision_is_answered_like_a_missing_one(live_api: LiveApi) -> None:
    answer = preapprove(live_api, live_api.keys.bank_a, live_api.codes[3])
    bank_b = live_api.client(live_api.keys.bank_b)
    for suffix in ("", "/replay"):
        method = bank_b.get if not suffix else bank_b.post
        theirs = method(f"/v1/decisions/{answer['decision_id']}{suffix}")
        missing = method(f"/v1/decisions/{uuid.uuid4()}{suffix}")
        assert theirs.status_code == missing.status_code == 404
        assert theirs.json() == missing.json()
        assert error_code(theirs) == "not_found"


def test_batch_answers_each_item_on_its_own(live_api: LiveApi) -> None:
    good, other = live_api.codes[4], live_api.codes[5]
    broken = good[:17] + next(c for c in "0123456789" if c != good[17])
    items = [{"uscc": good}, {"uscc": broken}, {"uscc": other, "requested_amount_cny": 1e5}]
    response = live_api.client(live_api.keys.bank_a).post(
        "/v1/preapprovals/batch", json={"items": items}
    )
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["index"] for r in results] == [0, 1, 2]
    assert [r["status"] for r in results] == [200, 422, 200]
    assert results[1]["error"]["code"] == "invalid_uscc"
    assert results[1]["error"]["reason"] == "check_char"
    assert broken not in response.text
    assert [results[0]["result"]["uscc"], results[2]["result"]["uscc"]] == [good, other]


def test_batch_items_scored_together_equal_single_answers(live_api: LiveApi) -> None:
    client = live_api.client(live_api.keys.bank_a)
    codes = live_api.codes[:MAX_BATCH]
    items = [{"uscc": c, "requested_amount_cny": 5e4 * (i + 1)} for i, c in enumerate(codes)]
    response = client.post("/v1/preapprovals/batch", json={"items": items})
    assert response.status_code == 200, response.text
    batch = response.json()["results"]
    for item, result in zip(items, batch, strict=True):
        single = client.post("/v1/preapprovals", json=item).json()
        assert {**result["result"], "decision_id": None} == {**single, "decision_id": None}


def test_batch_over_max_batch_is_refused(live_api: LiveApi) -> None:
    items = [{"uscc": live_api.codes[0]}] * (MAX_BATCH + 1)
    before = live_api.counts()
    response = live_api.client(live_api.keys.bank_a).post(
        "/v1/preapprovals/batch", json={"items": items}
    )
    assert 400 <= response.status_code < 500
    assert error_code(response) == "batch_too_large"
    assert live_api.counts() == before


# --- outcomes and idempotency ---------------------------------------------------------------


def test_outcome_retry_with_the_same_key_replays_the_first_answer(live_api: LiveApi) -> None:
    client = live_api.client(live_api.keys.bank_a)
    body, headers = outcome(fresh("loan"), live_api.codes[0]), {"Idempotency-Key": fresh("key")}
    first = client.post("/v1/outcomes", json=body, headers=headers)
    again = client.post("/v1/outcomes", json=body, headers=headers)
    assert first.status_code == again.status_code == 200
    assert first.json() == {
        "stored": 1,
        "results": [{"loan_id": body["loan_id"], "result": "created"}],
    }
    assert again.json() == first.json()
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Idempotent-Replayed"] == "true"
    reused = client.post("/v1/outcomes", json=body | {"drawn_amount_cny": 1.0}, headers=headers)
    assert reused.status_code == 422
    assert error_code(reused) == "idempotency_key_reused"


def test_newer_observation_updates_and_older_leaves_the_loan_unchanged(
    live_api: LiveApi,
) -> None:
    client, loan = live_api.client(live_api.keys.bank_a), fresh("loan")
    code = live_api.codes[0]

    def report(observed: str, **overrides: Any) -> str:
        response = client.post(
            "/v1/outcomes", json=outcome(loan, code, observation_date=observed, **overrides)
        )
        assert response.status_code == 200, response.text
        return str(response.json()["results"][0]["result"])

    assert report("2025-06-30") == "created"
    assert report("2025-09-30", max_dpd=35, dpd_history=[0, 5, 35]) == "updated"
    assert report("2025-03-31", max_dpd=0) == "unchanged"
    assert report("2025-09-30", max_dpd=90) == "unchanged"
    with live_api.sessions() as session:
        row = session.scalars(
            select(Outcome).where(Outcome.tenant_id == "bank_a", Outcome.loan_id == loan)
        ).one()
    assert (row.observation_date.isoformat(), row.max_dpd) == ("2025-09-30", 35)


def test_the_explore_flag_is_stored_and_read_back(live_api: LiveApi) -> None:
    client, code = live_api.client(live_api.keys.bank_a), live_api.codes[1]
    test_loan, ordinary, bad = fresh("loan"), fresh("loan"), fresh("loan")
    assert client.post("/v1/outcomes", json=outcome(test_loan, code, explore=True)).is_success
    assert client.post("/v1/outcomes", json=outcome(ordinary, code)).is_success
    refused = client.post("/v1/outcomes", json=outcome(bad, code, explore="yes"))
    assert refused.status_code == 422
    assert error_code(refused) == "invalid_input"
    assert "yes" not in refused.text
    with live_api.sessions() as session:
        flags = dict(
            session.execute(
                select(Outcome.loan_id, Outcome.explore).where(
                    Outcome.tenant_id == "bank_a", Outcome.loan_id.in_([test_loan, ordinary, bad])
                )
            ).all()
        )
    assert flags == {test_loan: True, ordinary: False}


def test_first_loan_and_security_are_stored_and_bad_values_refused(live_api: LiveApi) -> None:
    client, code = live_api.client(live_api.keys.bank_a), live_api.codes[1]
    first, later, silent = fresh("loan"), fresh("loan"), fresh("loan")
    sent = [
        outcome(first, code, first_loan=True, security="credit"),
        outcome(later, code, first_loan=False, security="collateral"),
        outcome(silent, code),
    ]
    assert all(client.post("/v1/outcomes", json=body).is_success for body in sent)
    for bad in ({"security": "mortgage-ish"}, {"first_loan": "yes"}):
        refused = client.post("/v1/outcomes", json=outcome(fresh("loan"), code, **bad))
        assert refused.status_code == 422
        assert error_code(refused) == "invalid_input"
        assert next(iter(bad.values())) not in refused.text
    with live_api.sessions() as session:
        rows = session.execute(
            select(Outcome.loan_id, Outcome.first_loan, Outcome.security).where(
                Outcome.tenant_id == "bank_a", Outcome.loan_id.in_([first, later, silent])
            )
        ).all()
    assert {r.loan_id: (r.first_loan, r.security) for r in rows} == {
        first: (True, "credit"),
        later: (False, "collateral"),
        silent: (None, None),
    }


def test_concurrent_retries_of_one_key_store_one_row(live_api: LiveApi) -> None:
    body, key = outcome(fresh("loan"), live_api.codes[0]), fresh("key")
    start = threading.Barrier(16)

    def send(_: int) -> httpx.Response:
        with httpx.Client(
            base_url=live_api.base_url,
            timeout=60,
            headers={
                "Authorization": f"Bearer {live_api.keys.bank_a}",
                "Idempotency-Key": key,
            },
        ) as client:
            start.wait()
            return client.post("/v1/outcomes", json=body)

    with ThreadPoolExecutor(16) as pool:
        responses = list(pool.map(send, range(16)))
    assert [r.status_code for r in responses] == [200] * 16, [r.text for r in responses]
    assert len({r.content for r in responses}) == 1
    assert sum("Idempotent-Replayed" not in r.headers for r in responses) == 1
    with live_api.sessions() as session:
        rows = session.scalar(
            select(func.count())
            .select_from(Outcome)
            .where(Outcome.tenant_id == "bank_a", Outcome.loan_id == body["loan_id"])
        )
        claim = session.get(IdempotencyKey, ("bank_a", key))
    assert rows == 1
    assert claim is not None
    assert claim.status_code == 200


def test_idempotency_keys_are_per_bank(live_api: LiveApi) -> None:
    key, loan = fresh("shared"), fresh("loan")
    body = outcome(loan, live_api.codes[0])
    headers = {"Idempotency-Key": key}
    a = live_api.client(live_api.keys.bank_a).post("/v1/outcomes", json=body, headers=headers)
    b = live_api.client(live_api.keys.bank_b).post(
        "/v1/outcomes", json=body | {"granted_amount_cny": 160_000.0}, headers=headers
    )
    assert a.status_code == b.status_code == 200
    assert "Idempotent-Replayed" not in b.headers
    assert b.json()["results"] == [{"loan_id": loan, "result": "created"}]


def test_a_loan_id_with_a_nul_character_is_refused(live_api: LiveApi) -> None:
    body = outcome(f"nul\x00{uuid.uuid4().hex[:8]}", live_api.codes[0])
    with httpx.Client(
        base_url=live_api.base_url,
        timeout=30,
        headers={"Authorization": f"Bearer {live_api.keys.bank_a}"},
    ) as client:
        response = client.post("/v1/outcomes", json=body)
    assert response.status_code == 422
    assert error_code(response) == "invalid_input"


# --- models, health, metrics ----------------------------------------------------------------


def test_models_shows_the_platform_champion_with_its_metrics(live_api: LiveApi) -> None:
    response = live_api.client(live_api.keys.platform).get("/v1/models")
    assert response.status_code == 200
    body = response.json()
    assert body["serving"]["name"] == body["champion"]["name"] == "precredit-platform"
    assert body["serving"]["version"] == body["champion"]["version"] == "1"
    assert 0.5 < body["champion"]["metrics"]["auc"] <= 1
    assert {"ks", "brier", "ece"} <= set(body["champion"]["metrics"])
    assert body["challenger"]["version"] == "1"


def test_models_shows_the_champion_that_serves_a_bank(live_api: LiveApi) -> None:
    response = live_api.client(live_api.keys.admin_a).get("/v1/models")
    assert response.status_code == 200
    body = response.json()
    assert body["serving"]["name"] == "precredit-platform"
    assert body["champion"] is not None
    assert body["champion"]["version"] == body["serving"]["version"]
    assert "auc" in body["champion"]["metrics"]


def test_health_and_readiness(live_api: LiveApi) -> None:
    client = live_api.client()
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {
        "ready": True,
        "checks": {"snapshot": True, "service_db": True, "model": True},
    }


def test_metrics_count_requests_and_decisions(live_api: LiveApi) -> None:
    answer = preapprove(live_api, live_api.keys.bank_a, live_api.codes[6])
    response = live_api.client().get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'precredit_requests_total{route="/v1/preapprovals",status="200"}' in text
    assert f'precredit_decisions_total{{decision="{answer["decision"]}"}}' in text
    assert 'precredit_model_info{name="precredit-platform",version="1"} 1.0' in text


# --- authentication and scopes --------------------------------------------------------------


def test_a_missing_or_revoked_key_is_401_with_www_authenticate(live_api: LiveApi) -> None:
    for key in (None, live_api.keys.revoked_a):
        response = live_api.client(key).post("/v1/preapprovals", json={"uscc": live_api.codes[0]})
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert error_code(response) == "unauthorized"


def test_a_key_without_the_outcomes_scope_is_403(live_api: LiveApi) -> None:
    client = live_api.client(live_api.keys.score_only_a)
    assert client.post("/v1/preapprovals", json={"uscc": live_api.codes[0]}).status_code == 200
    response = client.post("/v1/outcomes", json=outcome(fresh("loan"), live_api.codes[0]))
    assert response.status_code == 403
    assert error_code(response) == "forbidden"


# --- the decisions audit --------------------------------------------------------------------


def test_the_decisions_audit_cannot_be_changed(live_api: LiveApi) -> None:
    answer = preapprove(live_api, live_api.keys.bank_a, live_api.codes[7])
    decision_id = answer["decision_id"]
    changes = (
        update(Decision).where(Decision.id == decision_id).values(limit_cny=9e9),
        delete(Decision).where(Decision.id == decision_id),
    )
    for change in changes:
        with live_api.sessions() as session, pytest.raises(IntegrityError, match="append-only"):
            session.execute(change)  # the trigger refuses the statement itself
    with live_api.sessions() as session:
        row = session.get(Decision, decision_id)
        assert row is not None
        assert row.limit_cny == answer["limit_cny"]


def test_a_registered_pilot_era_code_is_scored_with_its_flag(live_api: LiveApi) -> None:
    """DOMAIN: codes from early pilot regions fail their checks; flag them, never drop them."""
    from catalog import store as platform_store

    with platform_store.connect(live_api.home / "platform.duckdb", read_only=True) as con:
        stored = [r[0] for r in con.execute("SELECT uscc FROM feature_snapshot").fetchall()]
    pilots = [c for c in stored if not uscc.is_valid(c)]
    assert pilots, "the seed-7 test platform carries a pilot-era code"
    with pytest.raises(InvalidUSCC) as refused:
        uscc.canonical(pilots[0])
    answer = preapprove(live_api, live_api.keys.bank_a, pilots[0].lower())
    assert answer["uscc"] == pilots[0]
    assert answer["uscc_flag"] == refused.value.reason
    replay = live_api.client(live_api.keys.bank_a).post(
        f"/v1/decisions/{answer['decision_id']}/replay"
    )
    assert replay.json()["identical"] is True
    metrics = live_api.client().get("/metrics").text
    assert f'precredit_flagged_codes_total{{reason="{answer["uscc_flag"]}"}}' in metrics
    valid = preapprove(live_api, live_api.keys.bank_a, live_api.codes[0])
    assert "uscc_flag" not in valid
