"""Single pre-approvals answered together (serving.coalesce) are each answered as if alone.

The coalescer runs here on the API's own services (real snapshot, model, SQLite and
PostgreSQL service databases, audit writer), without HTTP, so a group forms for certain:
requests gathered in one event-loop turn all wait behind the one free slot and are answered
as one group. Over HTTP, concurrent requests to the lane must answer what the FastAPI route
answers one by one.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from api_fixtures import LiveApi, assert_chains_whole
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy import select
from test_consents import PUBLIC, new_bank, record

from catalog.errors import PrecreditError
from serving.app import build_services, create_app
from serving.coalesce import Coalescer
from serving.config import Settings
from serving.db import consents, repo
from serving.db import models as db
from serving.decision import decisions
from serving.deps import authenticated, with_scope
from serving.http import Limits, ServerThread
from serving.schemas import PreapprovalIn
from serving.state import Services

UNKNOWN_CODE = "91110101MA01YY00XX"  # valid check characters, not on the platform
INVALID_CODE = "91110000600037341N"


@pytest.fixture
def services(live_api: LiveApi) -> Iterator[Services]:
    """The API's services on live_api's home and database, with the audit writer process (the
    default of two or more workers)."""
    settings = Settings(
        home=live_api.home,
        database_url=live_api.database_url,
        model_poll_seconds=0,
        audit_writer="process",
    )
    built = build_services(settings)
    yield built
    built.audit.close()
    built.jobs.stop()
    built.reads.dispose()


@pytest.fixture(scope="module")
def one_slot_lane(live_api: LiveApi) -> Iterator[str]:
    """A server on live_api's home and database whose lane answers one group at a time, so
    concurrent requests queue and are answered in groups: its base URL."""
    settings = Settings(
        home=live_api.home,
        database_url=live_api.database_url,
        model_poll_seconds=0,
        coalesce_running=1,
    )
    with ServerThread(
        create_app(settings), name="api-one-slot", limits=Limits.of(settings)
    ) as server:
        yield server.base_url


def _asked(live_api: LiveApi) -> list[tuple[PreapprovalIn, str | None]]:
    """(body, key): answers for two tenants, an amount, and each refusal of a request."""
    codes, keys = live_api.codes, live_api.keys
    a, b = keys.bank_a, keys.bank_b

    def body(**fields: Any) -> PreapprovalIn:
        return PreapprovalIn.model_validate(fields)

    return [
        (body(uscc=codes[1]), a),
        (body(uscc=codes[2], requested_amount_cny=500_000), keys.score_only_a),
        (body(uscc=UNKNOWN_CODE), a),
        (body(uscc=codes[3]), b),
        (body(uscc=codes[6]), None),  # no key: 401
        (body(uscc=codes[4], product="no_such_product"), a),
        (body(uscc=codes[7]), keys.revoked_a),  # 401
        (body(uscc=INVALID_CODE), b),
        (body(uscc=codes[5].lower(), requested_amount_cny=1234.5), a),
        (body(uscc=codes[8]), _outcomes_only_key(live_api)),  # 403: no `score` scope
        (body(uscc=codes[1]), b),
    ]


def _outcomes_only_key(live_api: LiveApi) -> str:
    with live_api.sessions() as session:
        key = repo.issue_key(session, "bank_a", ["outcomes"])
        session.commit()
    return key


def _gathered(coalescer: Coalescer, asked: list[tuple[PreapprovalIn, str | None]]) -> list[Any]:
    """Every request's response or error, all sent in one event-loop turn."""

    async def run() -> list[Any]:
        return await asyncio.gather(
            *(coalescer.answer(body, key) for body, key in asked), return_exceptions=True
        )

    return asyncio.run(run())


def _groups(services: Services) -> tuple[float, float]:
    """(groups, requests in them) so far, from the app's metrics."""
    registry = services.metrics.registry
    count = registry.get_sample_value("precredit_preapproval_group_size_count") or 0.0
    total = registry.get_sample_value("precredit_preapproval_group_size_sum") or 0.0
    return count, total


def _alone(
    services: Services, body: PreapprovalIn, key: str | None
) -> dict[str, Any] | tuple[str, str]:
    """The answer this request gets alone (its error's code and message if refused): the key
    checked as the route's dependency checks it, then `decisions.evaluate`."""
    try:
        credentials = (
            None if key is None else HTTPAuthorizationCredentials(scheme="Bearer", credentials=key)
        )
        tenant = with_scope(authenticated(services, credentials), "score").tenant_id
        scored = decisions.evaluate(
            services, tenant, body.uscc, body.product, body.requested_amount_cny
        )
    except PrecreditError as error:
        return error.code, error.message
    return scored.answer.model_dump(mode="json")


def test_a_group_answers_each_request_as_if_alone(services: Services, live_api: LiveApi) -> None:
    asked = _asked(live_api)
    coalescer = Coalescer(services, max_items=32, max_running=1)
    before = _groups(services)
    outcomes = _gathered(coalescer, asked)
    assert _groups(services) == (before[0] + 1, before[1] + len(asked))  # one group of all
    ids = []
    tenants = {live_api.keys.bank_a: "bank_a", live_api.keys.score_only_a: "bank_a",
               live_api.keys.bank_b: "bank_b"}  # fmt: skip
    for (body, key), outcome in zip(asked, outcomes, strict=True):
        expected = _alone(services, body, key)
        if isinstance(expected, tuple):
            assert isinstance(outcome, PrecreditError), body
            assert (outcome.code, outcome.message) == expected
            continue
        assert outcome.status_code == 200
        answer = json.loads(outcome.body)
        ids.append((answer.pop("decision_id"), tenants[key], answer))
        assert answer == expected, body
    refused = [getattr(outcomes[i], "code", None) for i in (4, 6, 9)]
    assert refused == ["unauthorized", "unauthorized", "forbidden"]
    assert len(ids) == 5
    assert len({i for i, _, _ in ids}) == 5
    with live_api.sessions() as session:  # each answer is its own audited decision
        for decision_id, tenant, answer in ids:
            row = session.scalars(select(db.Decision).where(db.Decision.id == decision_id)).one()
            assert (row.tenant_id, row.uscc) == (tenant, answer["uscc"])
            assert json.loads(row.response_json) == answer
    assert_chains_whole(live_api.database_url, ("bank_a", "bank_b"), nonempty=True)


def test_groups_take_at_most_max_items_and_a_lone_request_waits_for_none(
    services: Services, live_api: LiveApi
) -> None:
    asked = [(PreapprovalIn(uscc=code), live_api.keys.bank_a) for code in live_api.codes[10:20]]
    coalescer = Coalescer(services, max_items=4, max_running=1)
    before = _groups(services)
    outcomes = _gathered(coalescer, asked)
    assert [o.status_code for o in outcomes] == [200] * 10
    assert _groups(services) == (before[0] + 3, before[1] + 10)  # 4 + 4 + 2
    alone = _gathered(coalescer, asked[:1])
    assert alone[0].status_code == 200
    assert _groups(services) == (before[0] + 4, before[1] + 11)


def test_a_failed_audit_write_fails_every_request_of_its_group(
    services: Services, live_api: LiveApi
) -> None:
    asked = [(PreapprovalIn(uscc=code), live_api.keys.bank_a) for code in live_api.codes[30:34]]
    asked.append((PreapprovalIn(uscc=UNKNOWN_CODE), live_api.keys.bank_a))
    with live_api.sessions() as session:
        count_before = len(session.scalars(select(db.Decision.id)).all())
    services.audit.close()  # this worker's link to the writer is gone: nothing is recorded
    outcomes = _gathered(Coalescer(services, max_items=32, max_running=1), asked)
    assert [getattr(o, "code", None) for o in outcomes[:4]] == ["audit_unavailable"] * 4
    refused = outcomes[4]  # refused before the write: its own answer
    assert (refused.code, refused.message) == _alone(services, *asked[4])
    with live_api.sessions() as session:
        assert len(session.scalars(select(db.Decision.id)).all()) == count_before


def test_concurrent_requests_on_the_lane_answer_what_the_route_answers(
    live_api: LiveApi, route_only: str, one_slot_lane: str
) -> None:
    keys, codes = live_api.keys, live_api.codes
    sent = [
        (keys.bank_a if i % 3 else keys.bank_b, {"uscc": codes[40 + i % 8]}) for i in range(40)
    ] + [(keys.bank_a, {"uscc": UNKNOWN_CODE}), (keys.bank_b, {"uscc": codes[41], "product": "x"})]

    def post(base_url: str, key: str, body: dict[str, Any]) -> httpx.Response:
        headers = {"authorization": f"Bearer {key}"}
        return httpx.post(f"{base_url}/v1/preapprovals", headers=headers, json=body, timeout=60)

    with ThreadPoolExecutor(max_workers=16) as pool:
        lane = list(pool.map(lambda kb: post(one_slot_lane, *kb), sent))
    route = [post(route_only, key, body) for key, body in sent]
    for got, want in zip(lane, route, strict=True):
        assert got.status_code == want.status_code
        got_body, want_body = got.json(), want.json()
        got_body.pop("decision_id", None)
        want_body.pop("decision_id", None)
        assert got_body == want_body
    ids = [r.json()["decision_id"] for r in lane if r.status_code == 200]
    assert len(ids) == 40
    assert len(set(ids)) == 40
    with live_api.sessions() as session:
        stored = session.scalars(select(db.Decision.id).where(db.Decision.id.in_(ids))).all()
    assert sorted(stored) == sorted(ids)
    metrics = httpx.get(f"{one_slot_lane}/metrics", timeout=30).text
    groups = {
        line.split(" ")[0]: float(line.split(" ")[1])
        for line in metrics.splitlines()
        if line.startswith("precredit_preapproval_group_size_")
    }
    count = groups["precredit_preapproval_group_size_count"]
    assert groups["precredit_preapproval_group_size_sum"] == len(sent)
    assert count < len(sent)  # some requests were answered together


def test_a_group_reads_consents_once_and_answers_each_as_alone(
    services: Services, live_api: LiveApi
) -> None:
    _, key = new_bank(live_api)
    client, codes = live_api.client(key), live_api.codes[20:27]
    record(client, codes[0])  # full scope: the bank's model
    record(client, codes[1], PUBLIC)  # the public-records-only model
    record(client, codes[2], ["tax"])  # 403: no public records
    revoked = record(client, codes[3])
    assert client.delete(f"/v1/consents/{revoked}").status_code == 200  # 403
    later = (consents.today() + dt.timedelta(days=3)).isoformat()
    record(client, codes[4], starts_on=later)  # 403: not started
    record(client, codes[5], PUBLIC)
    record(client, codes[5])  # two in force: the widest wins
    asked = [(PreapprovalIn(uscc=c), key) for c in [*codes, codes[0], codes[1].lower()]]
    outcomes = _gathered(Coalescer(services, max_items=32, max_running=1), asked)
    seen = []
    for (body, _), outcome in zip(asked, outcomes, strict=True):
        expected = _alone(services, body, key)
        if isinstance(expected, tuple):
            assert isinstance(outcome, PrecreditError), body
            assert (outcome.code, outcome.message) == expected
            seen.append(outcome.code)
            continue
        answer = json.loads(outcome.body)
        answer.pop("decision_id")
        assert answer == expected, body
        seen.append(answer["model"]["name"])
    full, public = "precredit-platform", "precredit-platform_public"
    refused = ["consent_required"] * 4  # tax only, revoked, not started, none (codes[6])
    assert seen == [full, public, *refused[:3], full, refused[3], full, public]
