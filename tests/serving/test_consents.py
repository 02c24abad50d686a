"""Consent and data minimisation over the real API (SQLite and PostgreSQL).

A bank that requires consent scores an entity only under a valid consent: full scope, the bank's
model; public records only, the public-records-only model (no tax, social-insurance or
utilities value anywhere in the answer); none, expired, not started, another bank's or revoked:
403 `consent_required`. The audit records the consent, and its chain seals it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from typing import Any

import httpx
import pandas as pd
import pytest
from api_fixtures import LiveApi
from sqlalchemy import text

from catalog import store
from catalog.schema import DATA_SCOPES
from features import snapshot as feature_snapshot
from features.definitions import REGISTRY
from serving.db import consents, repo
from serving.db.audit_verify import verify_tenant
from serving.decision import scoring

FULL = sorted(DATA_SCOPES)
PUBLIC = ["public_records"]
OUT_OF_SCOPE = {f.name for f in REGISTRY.features if f.data_scope != "public_records"}
EVIDENCE = hashlib.sha256(b"signed authorisation").hexdigest()
# answer fields a decision stored by the code of 2026-11 (9b17f07) does not have
ADDED_SINCE_2026_11 = {
    "data_scope", "decline_reasons", "indicative_rate", "limit_explained", "policy_fingerprint"
}  # fmt: skip


def new_bank(api: LiveApi, require: bool = True, **options: Any) -> tuple[str, str]:
    """A fresh bank (unique id) that requires consent; its id and a score+outcomes key."""
    bank = f"c_{uuid.uuid4().hex[:10]}"
    with api.sessions() as session:
        tenant_options = repo.TenantOptions(require_consent=require)
        tenant = repo.create_tenant(session, bank, bank, tenant_options)
        tenant.financing_opt_in = bool(options.get("financing", False))
        key = repo.issue_key(session, bank, ["score", "outcomes"])
        session.commit()
    return bank, key


def consent_body(code: str, scope: list[str] = FULL, **changes: Any) -> dict[str, Any]:
    today = consents.today()
    body = {
        "uscc": code,
        "scope": scope,
        "purpose": "preapproval",
        "starts_on": (today - dt.timedelta(days=1)).isoformat(),
        "expires_on": (today + dt.timedelta(days=365)).isoformat(),
        "evidence_sha256": EVIDENCE,
    }
    return body | changes


def record(client: httpx.Client, code: str, scope: list[str] = FULL, **changes: Any) -> str:
    answer = client.post("/v1/consents", json=consent_body(code, scope, **changes))
    assert answer.status_code == 200, answer.text
    return str(answer.json()["id"])


def score(client: httpx.Client, code: str) -> httpx.Response:
    return client.post("/v1/preapprovals", json={"uscc": code, "requested_amount_cny": 300_000})


def test_a_consent_is_recorded_listed_and_revoked_never_deleted(live_api: LiveApi) -> None:
    bank, key = new_bank(live_api)
    client, code = live_api.client(key), live_api.codes[0]
    answer = client.post("/v1/consents", json=consent_body(code, ["tax", "public_records"]))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["bank"], body["uscc"], body["status"]) == (bank, code, "valid")
    assert body["scope"] == ["public_records", "tax"]  # a set: sorted
    assert body["recorded_by"].startswith("key:")
    listed = client.get("/v1/consents", params={"code": code}).json()["consents"]
    assert [c["id"] for c in listed] == [body["id"]]
    revoked = client.delete(f"/v1/consents/{body['id']}")
    assert revoked.status_code == 200
    assert (revoked.json()["status"], revoked.json()["revoked_by"]) == (
        "revoked",
        body["recorded_by"],
    )
    assert client.delete(f"/v1/consents/{body['id']}").status_code == 409
    again = client.get("/v1/consents").json()["consents"]
    assert [(c["id"], c["status"]) for c in again] == [(body["id"], "revoked")]
    with live_api.engine.connect() as connection:  # append-only: the row is still there
        rows = connection.execute(
            text("SELECT count(*) FROM consents WHERE id = :id"), {"id": body["id"]}
        ).scalar_one()
    assert rows == 1


def test_another_banks_consent_is_invisible_and_does_not_count(live_api: LiveApi) -> None:
    _, key_a = new_bank(live_api)
    _, key_b = new_bank(live_api)
    code = live_api.codes[1]
    consent = record(live_api.client(key_a), code)
    other = live_api.client(key_b)
    assert other.get("/v1/consents").json() == {"consents": []}
    assert other.delete(f"/v1/consents/{consent}").status_code == 404
    refused = score(other, code)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "consent_required"
    assert score(live_api.client(key_a), code).status_code == 200


def test_full_consent_scores_with_the_full_model_and_revocation_stops_it(live_api: LiveApi) -> None:
    _, key = new_bank(live_api)
    client, code = live_api.client(key), live_api.codes[2]
    before = score(client, code)
    assert (before.status_code, before.json()["error"]["code"]) == (403, "consent_required")
    consent = record(client, code)
    answer = score(client, code)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["consent_id"], body["data_scope"]) == (consent, FULL)
    assert body["model"]["name"] == "precredit-platform"
    assert client.delete(f"/v1/consents/{consent}").status_code == 200
    after = score(client, code)
    assert (after.status_code, after.json()["error"]["code"]) == (403, "consent_required")


@pytest.mark.parametrize(
    ("starts", "expires"), [(1, 30), (-400, -1)], ids=["not_yet_started", "expired"]
)
def test_a_consent_out_of_its_dates_does_not_count(
    live_api: LiveApi, starts: int, expires: int
) -> None:
    _, key = new_bank(live_api)
    client, code, today = live_api.client(key), live_api.codes[3], consents.today()
    record(client, code, starts_on=(today + dt.timedelta(days=starts)).isoformat(),
           expires_on=(today + dt.timedelta(days=expires)).isoformat())  # fmt: skip
    status = client.get("/v1/consents").json()["consents"][0]["status"]
    assert status == ("not_started" if starts > 0 else "expired")
    assert score(client, code).status_code == 403


def test_a_public_records_consent_is_scored_by_the_public_model_only(live_api: LiveApi) -> None:
    _, key = new_bank(live_api)
    client = live_api.client(key)
    answers = []
    for code in live_api.codes[:12]:
        record(client, code, PUBLIC)
        answer = score(client, code)
        assert answer.status_code == 200, answer.text
        answers.append(answer.json())
    for body in answers:
        assert body["model"]["name"] == "precredit-platform_public"
        assert body["data_scope"] == PUBLIC
        assert body["limit_cny"] == 0.0
        assert not {r["feature"] for r in body["reasons"]} & OUT_OF_SCOPE
        assert not {d["feature"] for d in body["limit_drivers"]} & OUT_OF_SCOPE
        assert not set(body["failed_gates"]) & {"gate:tax_grade", "gate:no_tax_paid"}
        assert "insured" not in body["limit_explained"]["text_en"]
        assert "tax paid" not in body["limit_explained"]["text_en"]
    referred = [b for b in answers if b["decision"] == "refer"]
    assert referred, "some entity passes the public gates"
    assert all(b["binding"] == "scope:limit_basis" for b in referred)
    assert "consent does not cover" in referred[0]["limit_explained"]["text_en"]


def test_a_tax_only_consent_without_public_records_is_refused(live_api: LiveApi) -> None:
    _, key = new_bank(live_api)
    client, code = live_api.client(key), live_api.codes[4]
    record(client, code, ["tax"])
    refused = score(client, code)
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "consent_required")
    assert "public_records" in refused.json()["error"]["message"]


def test_a_bank_that_does_not_require_consent_answers_without_one(live_api: LiveApi) -> None:
    _, key = new_bank(live_api, require=False)
    body = score(live_api.client(key), live_api.codes[5]).json()
    assert "consent_id" not in body
    assert body["data_scope"] == FULL


BAD_BODIES = [
    ({"uscc": "91350100M000100Y44"}, "invalid_uscc"),
    ({"scope": []}, "invalid_input"),
    ({"scope": ["bank_statements"]}, "invalid_input"),
    ({"purpose": "marketing"}, "invalid_input"),
    ({"starts_on": "2026-05-01", "expires_on": "2026-04-30"}, "invalid_input"),
    ({"starts_on": "2026-01-01", "expires_on": "2029-01-02"}, "invalid_input"),
    ({"evidence_sha256": "abc"}, "invalid_input"),
    ({"evidence_sha256": "G" * 64}, "invalid_input"),
    ({"starts_on": "01/05/2026"}, "invalid_input"),
    ({"bank": "someone_else"}, "forbidden"),
]


@pytest.mark.parametrize(("change", "code"), BAD_BODIES)
def test_bad_consent_bodies_are_refused_with_a_code(
    live_api: LiveApi, change: dict[str, Any], code: str
) -> None:
    _, key = new_bank(live_api)
    answer = live_api.client(key).post(
        "/v1/consents", json=consent_body(live_api.codes[0]) | change
    )
    assert answer.status_code == (403 if code == "forbidden" else 422), answer.text
    assert answer.json()["error"]["code"] == code


def test_the_financing_platform_records_a_consent_for_a_named_bank(live_api: LiveApi) -> None:
    bank, key = new_bank(live_api, financing=True)
    with live_api.sessions() as session:
        platform_key = repo.issue_key(session, "platform", ["platform"])
        session.commit()
    try:
        platform = live_api.client(platform_key)
        code = live_api.codes[6]
        missing = platform.post("/v1/consents", json=consent_body(code))
        assert missing.json()["error"]["code"] == "bank_required"
        request = {"uscc": code, "amount_cny": 200_000, "term_months": 12, "purpose": "stock"}
        first = platform.post("/v1/financing-requests", json=request).json()
        [refused] = [a for a in first["answers"] if a["bank"] == bank]
        assert refused["status"] == 403
        answer = platform.post("/v1/consents", json=consent_body(code) | {"bank": bank})
        assert answer.status_code == 200, answer.text
        assert answer.json()["bank"] == bank
        listed = live_api.client(key).get("/v1/consents").json()["consents"]
        assert [c["id"] for c in listed] == [answer.json()["id"]]
        second = platform.post("/v1/financing-requests", json=request).json()
        [scored] = [a for a in second["answers"] if a["bank"] == bank]
        assert scored["status"] == 200
        assert scored["body"]["consent_id"] == answer.json()["id"]
    finally:  # the shared server's other tests expect only their own banks to answer
        with live_api.sessions() as session:
            tenant = repo.get_tenant(session, bank)
            assert tenant is not None
            tenant.financing_opt_in = False
            session.commit()


def test_a_batch_follows_the_rule_item_by_item(live_api: LiveApi) -> None:
    _, key = new_bank(live_api)
    client = live_api.client(key)
    consented, public, missing = live_api.codes[7:10]
    record(client, consented)
    record(client, public, PUBLIC)
    items = [{"uscc": c} for c in (consented, public, missing)]
    results = client.post("/v1/preapprovals/batch", json={"items": items}).json()["results"]
    assert [r["status"] for r in results] == [200, 200, 403]
    assert results[0]["result"]["data_scope"] == FULL
    assert results[1]["result"]["data_scope"] == PUBLIC
    assert results[2]["error"]["code"] == "consent_required"


def test_the_audit_records_the_consent_and_its_chain_seals_it(live_api: LiveApi) -> None:
    bank, key = new_bank(live_api)
    client, code = live_api.client(key), live_api.codes[10]
    consent = record(client, code)
    decision_id = score(client, code).json()["decision_id"]
    with live_api.engine.connect() as connection:
        row = connection.execute(
            text("SELECT consent_id, consent_purpose FROM decisions WHERE id = :id"),
            {"id": decision_id},
        ).one()
    assert tuple(row) == (consent, "preapproval")
    with live_api.sessions() as session:
        assert verify_tenant(session, bank).broken is None
    replay = client.post(f"/v1/decisions/{decision_id}/replay").json()
    assert replay["identical"] is True


def test_a_decision_stored_before_this_release_is_given_back_and_replays_identically(
    live_api: LiveApi,
) -> None:
    """A stored answer from before data_scope, indicative rates, worded declines and limits is
    given back as stored (not a 500); replay compares the fields it had, lists those added
    since, and still catches a changed figure."""
    _bank, key = new_bank(live_api, require=False)
    client, code = live_api.client(key), live_api.codes[11]
    decision_id = score(client, code).json()["decision_id"]
    with live_api.engine.connect() as connection:
        row = (
            connection.execute(text("SELECT * FROM decisions WHERE id = :id"), {"id": decision_id})
            .mappings()
            .one()
        )
    answer = json.loads(row["response_json"])
    older = {k: v for k, v in answer.items() if k not in ADDED_SINCE_2026_11}
    changed = older | {"limit_cny": older["limit_cny"] + 1.0}
    fields = {
        k: row[k] for k in repo.DecisionFields.__annotations__ if k not in ("id", "created_at")
    }
    fields["snapshot_as_of"] = dt.date.fromisoformat(str(row["snapshot_as_of"])[:10])
    with live_api.sessions() as session:
        old_id, changed_id = repo.record_decisions(
            session,
            [
                fields | {"response_json": scoring.canonical_json(older)},
                fields | {"response_json": scoring.canonical_json(changed)},
            ],
        )
        session.commit()
    stored = client.get(f"/v1/decisions/{old_id}")
    assert stored.status_code == 200
    assert {
        k: v for k, v in stored.json().items() if k not in ("decision_id", "created_at")
    } == older
    old = client.post(f"/v1/decisions/{old_id}/replay").json()
    assert (old["identical"], old["fields_added"], old["fields_changed"]) == (
        True,
        sorted(ADDED_SINCE_2026_11),
        [],
    )
    assert old["original"] == older
    assert old["replayed"]["data_scope"] == answer["data_scope"]
    wrong = client.post(f"/v1/decisions/{changed_id}/replay").json()
    assert (wrong["identical"], wrong["fields_changed"]) == (False, ["limit_cny"])
    same = client.post(f"/v1/decisions/{decision_id}/replay").json()
    assert (same["identical"], same["fields_added"], same["fields_changed"]) == (True, [], [])


def test_a_court_debtor_decline_leads_with_the_listing_date(live_api: LiveApi) -> None:
    with store.connect(live_api.home / "platform.duckdb", read_only=True) as con:
        rows = con.execute(
            f"SELECT uscc, court_days_listed, as_of FROM {feature_snapshot.TABLE} "
            "WHERE court_in_force = 1 ORDER BY uscc LIMIT 1"
        ).fetchall()
    assert rows, "the tiny platform has a listed court debtor"
    code, days, as_of = rows[0]
    _, key = new_bank(live_api, require=False)
    body = score(live_api.client(key), code).json()
    assert body["decision"] == "decline"
    assert body["failed_gates"][0] == "gate:court_debtor"
    since = pd.Timestamp(as_of).date() - dt.timedelta(days=int(days))
    first = body["decline_reasons"][0]
    assert first["text_en"] == f"listed as a court debtor since {since.isoformat()}"
    assert first["text_zh"] == f"{since.year}年{since.month}月{since.day}日起被列为失信被执行人"
