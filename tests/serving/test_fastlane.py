"""The ASGI lane for single pre-approvals answers exactly what the FastAPI route answers.

Two real servers on one home and one service database (SQLite, then PostgreSQL): `live_api`
with the lane (the default) and a second one with `fast_preapprovals=False`, so every request
goes down the FastAPI route. The same requests, good and bad, get the same status, the same
error bodies and headers, and the same answers (decision ids aside, each answer being its own
audited decision).
"""

from __future__ import annotations

import json
from typing import Any

import httpx
from api_fixtures import LiveApi

from serving.db import repo

JSON = {"content-type": "application/json"}


def _outcomes_only_key(live_api: LiveApi) -> str:
    with live_api.sessions() as session:
        key = repo.issue_key(session, "bank_a", ["outcomes"])
        session.commit()
    return key


def _cases(live_api: LiveApi) -> list[tuple[str, dict[str, str], bytes]]:
    """(name, headers, body): the answers and every kind of refusal of the route."""
    keys, codes = live_api.keys, live_api.codes
    bearer = {"authorization": f"Bearer {keys.bank_a}"} | JSON

    def body(**fields: Any) -> bytes:
        return json.dumps(fields).encode()

    return [
        ("answer", bearer, body(uscc=codes[20])),
        ("answer_amount", bearer, body(uscc=codes[21], requested_amount_cny=500_000)),
        ("answer_float", bearer, body(uscc=codes[22], requested_amount_cny=1234.5)),
        ("answer_lower_case", bearer, body(uscc=codes[23].lower(), product="sme_credit")),
        ("answer_no_type", {"authorization": f"Bearer {keys.bank_b}"}, body(uscc=codes[24])),
        (
            "answer_charset",
            bearer | {"content-type": "application/json; charset=utf-8"},
            body(uscc=codes[25]),
        ),
        ("no_key", JSON, body(uscc=codes[20])),
        ("revoked", {"authorization": f"Bearer {keys.revoked_a}"} | JSON, body(uscc=codes[20])),
        ("basic", {"authorization": f"Basic {keys.bank_a}"} | JSON, body(uscc=codes[20])),
        ("bearer_alone", {"authorization": "Bearer"} | JSON, body(uscc=codes[20])),
        (
            "no_scope",
            {"authorization": f"Bearer {_outcomes_only_key(live_api)}"} | JSON,
            body(uscc=codes[20]),
        ),
        ("no_key_bad_body", JSON, b"{"),
        ("not_json", bearer, b"{uscc"),
        ("text_plain", bearer | {"content-type": "text/plain"}, body(uscc=codes[20])),
        ("form", bearer | {"content-type": "application/x-www-form-urlencoded"}, b"uscc=1"),
        ("extra_field", bearer, body(uscc=codes[20], branch="x")),
        ("amount_text", bearer, body(uscc=codes[20], requested_amount_cny="5")),
        ("amount_bool", bearer, body(uscc=codes[20], requested_amount_cny=True)),
        ("amount_zero", bearer, body(uscc=codes[20], requested_amount_cny=0)),
        ("amount_nan", bearer, b'{"uscc": "%s", "requested_amount_cny": NaN}' % codes[20].encode()),
        (
            "amount_huge",
            bearer,
            b'{"uscc": "%s", "requested_amount_cny": 1e400}' % codes[20].encode(),
        ),
        ("code_number", bearer, b'{"uscc": 91}'),
        ("array", bearer, b"[]"),
        ("empty", bearer, b""),
        ("invalid_code", bearer, body(uscc="91110000600037341N")),
        ("unknown_code", bearer, body(uscc="91110101MA01YY00XX")),
        ("unknown_product", bearer, body(uscc=codes[20], product="no_such_product")),
    ]


def _send(base_url: str, headers: dict[str, str], body: bytes) -> httpx.Response:
    return httpx.post(f"{base_url}/v1/preapprovals", headers=headers, content=body, timeout=30)


def _seen(response: httpx.Response) -> dict[str, Any]:
    """What a client sees, less the decision id (each answer is its own recorded decision)."""
    try:
        payload = response.json()
    except ValueError:
        payload = response.text
    if isinstance(payload, dict):
        payload.pop("decision_id", None)
    headers = {k: response.headers.get(k) for k in ("content-type", "www-authenticate")}
    return {"status": response.status_code, "body": payload, "headers": headers}


def test_the_lane_answers_every_request_as_the_route_does(
    live_api: LiveApi, route_only: str
) -> None:
    statuses = {}
    for name, headers, body in _cases(live_api):
        lane, route = _send(live_api.base_url, headers, body), _send(route_only, headers, body)
        assert _seen(lane) == _seen(route), name
        if lane.status_code == 200:
            assert (
                lane.content.replace(
                    lane.json()["decision_id"].encode(), route.json()["decision_id"].encode()
                )
                == route.content
            ), name  # byte for byte
        statuses[name] = lane.status_code
    # the cases cover the answer and each refusal the lane makes or hands on
    assert {statuses[n] for n in ("answer", "answer_amount", "answer_charset")} == {200}
    assert {statuses[n] for n in ("no_key", "revoked", "basic", "bearer_alone")} == {401}
    assert statuses["no_scope"] == 403
    assert {statuses[n] for n in ("not_json", "text_plain", "extra_field", "empty")} == {422}
    assert statuses["no_key_bad_body"] == 422  # FastAPI decodes the JSON before the key
    assert statuses["unknown_code"] in {404, 422}
    assert statuses["unknown_product"] == 422


def test_the_lane_counts_requests_and_decisions_under_the_route(live_api: LiveApi) -> None:
    def count(text: str, line: str) -> float:
        found = [row for row in text.splitlines() if row.startswith(line)]
        return float(found[0].rsplit(" ", 1)[1]) if found else 0.0

    requests = 'precredit_requests_total{route="/v1/preapprovals",status="200"}'
    before = count(live_api.client().get("/metrics").text, requests)
    headers = {"authorization": f"Bearer {live_api.keys.bank_a}"} | JSON
    for code in live_api.codes[30:33]:
        assert _send(live_api.base_url, headers, json.dumps({"uscc": code}).encode()).is_success
    after = count(live_api.client().get("/metrics").text, requests)
    assert after - before == 3
