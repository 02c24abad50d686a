"""The API's published contract (`/openapi.json`) against what the routes really answer.

The schema is walked route by route: a typed 2xx body, our error body for every declared error,
the bearer security scheme on every protected route. Live answers from a real uvicorn server
(`live_api`) must validate against the schemas the contract declares for them, and `/docs` and
`/redoc` must load with every asset served by the API itself.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from api_fixtures import LiveApi
from fastapi import FastAPI
from fastapi.routing import APIRoute
from jsonschema import Draft202012Validator

from catalog import uscc
from serving import responses
from serving.api import (
    consents,
    decisions,
    disputes,
    entities,
    financing,
    meta,
    models,
    outcomes,
    platform,
    policies,
    preapprovals,
    table_models,
    watch,
    webhooks,
)
from serving.app import create_app
from serving.config import Settings
from serving.errors import ErrorBody
from serving.schemas import USCC_PATTERN

PUBLIC = {("get", "/healthz"), ("get", "/readyz"), ("get", "/metrics")}
OUR_ERROR = "#/components/schemas/ErrorBody"
UNKNOWN_CODE = uscc.build("9", "1", "110101", "MA01YY00")  # valid, not on the platform


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    """An app that is never started (nothing is read or served)."""
    return create_app(Settings(home=tmp_path_factory.mktemp("contract")))


@pytest.fixture(scope="module")
def spec(app: FastAPI) -> dict[str, Any]:
    """Its OpenAPI document."""
    return app.openapi()


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path, operation) for every documented route."""
    return [
        (method, path, operation)
        for path, methods in spec["paths"].items()
        for method, operation in methods.items()
    ]


def json_schema(response: dict[str, Any]) -> dict[str, Any]:
    """The schema of a response's body (JSON, or text for the metrics)."""
    content = response.get("content", {})
    body = content.get("application/json") or content.get("text/plain") or {}
    schema: dict[str, Any] = body.get("schema", {})
    return schema


def test_the_walk_sees_every_route(spec: dict[str, Any]) -> None:
    modules = (preapprovals, decisions, outcomes, policies, models, financing, entities, watch)
    modules += (webhooks, consents, meta, disputes, platform, table_models)
    routes = [r for m in modules for r in m.router.routes if isinstance(r, APIRoute)]
    declared = {(method.lower(), r.path) for r in routes for method in r.methods}
    assert {(m, p) for m, p, _ in operations(spec)} == declared
    assert len(declared) >= 21


def test_every_route_answers_a_typed_2xx_body(spec: dict[str, Any]) -> None:
    untyped = set()
    for method, path, operation in operations(spec):
        ok = {s: r for s, r in operation["responses"].items() if s.startswith("2")}
        assert len(ok) == 1, (method, path, sorted(operation["responses"]))
        schema = json_schema(next(iter(ok.values())))
        if schema in ({}, {"type": "object"}) or schema.get("additionalProperties") is True:
            untyped.add((method, path))
    assert untyped == set()


def test_every_typed_answer_has_an_example_that_it_validates(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    for method, path, operation in operations(spec):
        ok = next(r for s, r in operation["responses"].items() if s.startswith("2"))
        ref = json_schema(ok).get("$ref", "")
        if not ref:
            continue
        name = ref.rsplit("/", 1)[-1]
        assert schemas[name]["examples"], (method, path)
        model = getattr(responses, name)  # the published copy drops nulls: check the source
        published = Draft202012Validator({**schemas[name], "components": spec["components"]})
        for example in model.model_json_schema(mode="serialization")["examples"]:
            published.validate(example)  # against what a client reads: the answer's schema


def test_every_error_response_is_our_error_body(spec: dict[str, Any]) -> None:
    for method, path, operation in operations(spec):
        for status, response in operation["responses"].items():
            if status.startswith("2") or (method, path, status) == ("get", "/readyz", "503"):
                continue
            assert json_schema(response) == {"$ref": OUR_ERROR}, (method, path, status)
            example = response["content"]["application/json"]["example"]
            ErrorBody.model_validate(example)
    assert "HTTPValidationError" not in spec["components"]["schemas"]


def test_routes_declare_the_errors_they_can_return(spec: dict[str, Any]) -> None:
    for method, path, operation in operations(spec):
        declared = set(operation["responses"])
        if (method, path) not in PUBLIC:
            assert "401" in declared, (method, path)
        if "requestBody" in operation:
            assert {"413", "422"} <= declared, (method, path)
        if "{" in path and (method, path) != ("get", "/v1/entities/{code}/evaluation"):
            assert "404" in declared, (method, path)
    scoped = [(m, p) for m, p, _ in operations(spec) if (m, p) not in PUBLIC]
    unscoped = [(m, p) for m, p in scoped if "403" not in spec["paths"][p][m]["responses"]]
    assert unscoped == [("get", "/v1/entities/{code}/evaluation")]  # any valid key reads grades


def test_api_keys_are_a_bearer_security_scheme_on_every_protected_route(
    spec: dict[str, Any],
) -> None:
    schemes = spec["components"]["securitySchemes"]
    assert schemes == {"ApiKey": schemes["ApiKey"]}
    assert (schemes["ApiKey"]["type"], schemes["ApiKey"]["scheme"]) == ("http", "bearer")
    for method, path, operation in operations(spec):
        expected = None if (method, path) in PUBLIC else [{"ApiKey": []}]
        assert operation.get("security") == expected, (method, path)


def test_the_credit_code_carries_its_pattern_and_dates_their_format(
    spec: dict[str, Any],
) -> None:
    schemas = spec["components"]["schemas"]
    for name in ("PreapprovalIn", "OutcomeIn", "FinancingRequestIn"):
        assert schemas[name]["properties"]["uscc"]["pattern"] == USCC_PATTERN
    assert schemas["WatchIn"]["properties"]["codes"]["items"]["pattern"] == USCC_PATTERN
    for path in ("/v1/entities/{code}/evaluation", "/v1/watchlist/{code}"):
        (code,) = [p for o in spec["paths"][path].values() for p in o["parameters"]]
        assert code["schema"]["pattern"] == USCC_PATTERN
    assert re.fullmatch(USCC_PATTERN, UNKNOWN_CODE)
    assert not re.fullmatch(USCC_PATTERN, UNKNOWN_CODE.replace("M", "I"))  # no I, O, S, V, Z
    date = schemas["OutcomeIn"]["properties"]["application_date"]
    assert date["format"] == "date"


# --- live answers validate against the declared contract ------------------------------------


def declared_error(spec: dict[str, Any], method: str, path: str, status: int) -> None:
    """The route declares `status` with our error body."""
    response = spec["paths"][path][method]["responses"][str(status)]
    assert json_schema(response) == {"$ref": OUR_ERROR}


def outcome(**overrides: Any) -> dict[str, Any]:
    """An outcome report (valid unless overridden)."""
    body = {
        "loan_id": "contract-1",
        "uscc": UNKNOWN_CODE,
        "application_date": "2025-01-10",
        "granted_amount_cny": 1000.0,
        "drawn_amount_cny": 1000.0,
        "default_flag": False,
        "observation_date": "2025-06-30",
    }
    return body | overrides


def test_a_real_401_403_404_and_422_match_the_contract(
    live_api: LiveApi, spec: dict[str, Any]
) -> None:
    cases = [
        (live_api.client().get("/v1/watchlist"), "get", "/v1/watchlist", 401),
        (
            live_api.client(live_api.keys.score_only_a).post("/v1/outcomes", json=outcome()),
            "post",
            "/v1/outcomes",
            403,
        ),
        (
            live_api.client(live_api.keys.bank_a).get("/v1/decisions/no-such-decision"),
            "get",
            "/v1/decisions/{decision_id}",
            404,
        ),
        (
            live_api.client(live_api.keys.bank_a).post("/v1/preapprovals", json={"uscc": 7}),
            "post",
            "/v1/preapprovals",
            422,
        ),
    ]
    for response, method, path, status in cases:
        assert response.status_code == status, response.text
        declared_error(spec, method, path, status)
        ErrorBody.model_validate(response.json())
    assert cases[0][0].headers["WWW-Authenticate"] == "Bearer"


def test_a_timestamp_is_not_an_application_date(live_api: LiveApi) -> None:
    client = live_api.client(live_api.keys.bank_a)
    response = client.post("/v1/outcomes", json=outcome(application_date="2025-01-01T00:00:00Z"))
    assert response.status_code == 422, response.text
    error = ErrorBody.model_validate(response.json()).error
    assert error.code == "invalid_input"
    assert error.problems is not None
    assert error.problems[0].loc[-1] == "application_date"


def test_the_bearer_scheme_keeps_the_wire_format(live_api: LiveApi) -> None:
    headers = {"Authorization": f"bearer   {live_api.keys.bank_a}"}  # any case, extra spaces
    assert live_api.client().get("/v1/watchlist", headers=headers).status_code == 200
    basic = {"Authorization": f"Basic {live_api.keys.bank_a}"}
    assert live_api.client().get("/v1/watchlist", headers=basic).status_code == 401


# --- /docs and /redoc offline -----------------------------------------------------------------


class Links(HTMLParser):
    """Every src and href of a page, and the URLs its inline scripts name."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self._script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [v for k, v in attrs if k in ("src", "href", "spec-url") and v]
        self._script = tag == "script"

    def handle_data(self, data: str) -> None:
        if self._script:
            self.urls += re.findall(r"""url:\s*['"]([^'"]+)['"]""", data)
            self.urls += re.findall(r"https?://[^\s'\"]+", data)


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_docs_load_with_no_request_leaving_the_machine(sqlite_api: LiveApi, page: str) -> None:
    client = sqlite_api.client()
    response = client.get(page)
    assert response.status_code == 200
    links = Links()
    links.feed(response.text)
    assert len(links.urls) >= 3, links.urls  # a script, the schema, and a style or an icon
    assert "/openapi.json" in links.urls
    for url in links.urls:
        assert re.match(r"/[^/]", url), url  # a path on this server, not another host
        assert client.get(url).status_code == 200, url
    if page == "/docs":
        assert '"validatorUrl": null' in response.text  # no call to the online validator


def test_the_docs_assets_come_from_the_installed_package() -> None:
    import fastapi_offline

    static = Path(fastapi_offline.__file__).parent / "static"
    assert {"swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js"} <= {
        p.name for p in static.iterdir()
    }
