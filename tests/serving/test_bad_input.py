"""A corpus of bad requests against the real server: each is a 4xx in the one error shape.

Every case checks the status and `error.code`, that the body is JSON with a message, carries
no stack trace, does not echo the planted `MARKER` (or the raw body), and that the service
database has not changed. Cases the service gets wrong are marked with the finding as an
xfail, so a fix turns them into a failure that asks for the marker's removal.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from api_fixtures import MAX_BATCH, MAX_BODY_BYTES, LiveApi

from catalog import uscc

MARKER = "ZZECHOZZ"
VALID = uscc.build("9", "1", "441500", "MA5FXX01")  # well-formed; its entity is not needed here


def _other(char: str) -> str:
    return "1" if char != "1" else "2"


ORG_BROKEN = VALID[:16] + _other(VALID[16])
CODES = {  # reason -> a code failing exactly that rule
    "length": VALID[:17],
    "length_long": VALID + "0",
    "charset": VALID[:9] + "I" + VALID[10:],
    "charset_marker": MARKER + VALID[8:],
    "charset_inner_space": VALID[:9] + " " + VALID[10:],
    "authority": "B" + VALID[1:],
    "entity_type": "94" + VALID[2:],
    "division": VALID[:5] + "A" + VALID[6:],
    "org_check": ORG_BROKEN + uscc.check_char(ORG_BROKEN),
    "check_char": VALID[:17] + _other(VALID[17]),
    "empty_after_strip": "   \t ",
}
OUTCOME = {"loan_id": "bad-input-loan", "uscc": VALID, "application_date": "2025-01-10",
           "granted_amount_cny": 200_000.0, "drawn_amount_cny": 150_000.0,
           "default_flag": False, "observation_date": "2025-06-30"}  # fmt: skip

LAX = "BUG serving/schemas.py:37 (OutcomeIn strict=False, against the module's 'strict' contract): "
FINDINGS: dict[str, str] = {}  # every finding of the first corpus run is fixed


@dataclass(frozen=True)
class Case:
    """One bad request and the refusal it must get."""

    name: str
    status: int
    code: str
    body: bytes | None = None
    method: str = "POST"
    path: str = "/v1/preapprovals"
    headers: Mapping[str, str] = field(default_factory=dict)
    key: str | None = "bank_a"  # attribute of `Keys`; None sends no Authorization header
    chunked: bool = False


def j(value: Any) -> bytes:
    """A JSON body."""
    return json.dumps(value).encode()


def pre(**fields: Any) -> bytes:
    """A pre-approval body: a valid code, with `fields` replacing or adding members."""
    return j({"uscc": VALID} | fields)


def out(**fields: Any) -> bytes:
    """An outcome body: a valid report, with `fields` replacing or adding members."""
    return j(OUTCOME | fields)


def outcome_case(name: str, body: bytes, code: str = "invalid_input", **kw: Any) -> Case:
    """A refused outcome report (422 unless told)."""
    return Case(name, kw.pop("status", 422), code, body, path="/v1/outcomes", **kw)


def raw(template: str) -> bytes:
    """A body that is not valid JSON for Python's encoder (NaN, huge numbers)."""
    return template.replace("VALID", VALID).encode()


def _codes() -> list[Case]:
    cases = [
        Case(f"uscc_{reason}", 422, "invalid_uscc", pre(uscc=code))
        for reason, code in CODES.items()
    ]
    return [
        *cases,
        Case("uscc_empty", 422, "invalid_input", pre(uscc="")),
        Case("uscc_65_chars", 422, "invalid_input", pre(uscc=VALID * 3 + MARKER + "XYZ")),
        Case("uscc_lone_surrogate", 422, "invalid_input", raw('{"uscc": "\\ud800ZZECHOZZ"}')),
        Case("uscc_missing", 422, "invalid_input", j({"product": "sme_credit"})),
        Case(
            "unknown_valid_code",
            404,
            "unknown_entity",
            pre(uscc=uscc.build("9", "1", "110101", "MA01YY00")),
        ),
        Case("unknown_product", 422, "invalid_input", pre(product=MARKER)),
    ]


def _types() -> list[Case]:
    wrong: dict[str, list[Any]] = {
        "uscc": [91441500, True, None, [VALID], {"code": VALID}],
        "product": [1, False, None, ["sme_credit"], {"name": MARKER}],
        "requested_amount_cny": ["100000", True, [1.0], {"cny": 1.0}],
    }
    return [
        Case(f"type_{name}_{type(value).__name__}", 422, "invalid_input", pre(**{name: value}))
        for name, values in wrong.items()
        for value in values
    ]


def _amounts() -> list[Case]:
    bare = {
        "nan": "NaN",
        "inf": "Infinity",
        "minus_inf": "-Infinity",
        "1e400": "1e400",
        "minus_1e400": "-1e400",
        "int_400_digits": "1" + "0" * 400,
    }
    cases = [
        Case(
            f"amount_{name}",
            422,
            "invalid_input",
            raw(f'{{"uscc": "VALID", "requested_amount_cny": {token}}}'),
        )
        for name, token in bare.items()
    ]
    return [
        *cases,
        *(
            Case(f"amount_{name}", 422, "invalid_input", pre(requested_amount_cny=value))
            for name, value in {
                "zero": 0,
                "negative": -1.5,
                "minus_zero": -0.0,
                "over_1e12": 1e13,
            }.items()
        ),
        Case(
            "amount_int_5000_digits",
            400,
            "bad_request",
            raw('{"uscc": "VALID", "requested_amount_cny": 1' + "0" * 5000 + "}"),
        ),
    ]


def _bodies() -> list[Case]:
    too_big = pre(padding=MARKER * (MAX_BODY_BYTES // len(MARKER) + 1))
    as_json = {"content-type": "application/json"}
    return [
        Case("extra_field", 422, "invalid_input", pre(note=MARKER)),
        Case("extra_field_named_marker", 422, "invalid_input", pre(**{MARKER: 1})),
        Case("body_list", 422, "invalid_input", j([{"uscc": VALID}])),
        Case("body_string", 422, "invalid_input", j(MARKER)),
        Case("body_null", 422, "invalid_input", b"null"),
        Case("body_too_large", 413, "payload_too_large", too_big),
        Case("body_too_large_chunked", 413, "payload_too_large", too_big, chunked=True),
        Case("nested_lists_10000", 400, "bad_request", b"[" * 10_000 + b"]" * 10_000),
        Case(
            "nested_objects_10000",
            400,
            "bad_request",
            b'{"uscc": ' + b'{"a": ' * 10_000 + b"1" + b"}" * 10_001,
        ),
        Case("malformed_json", 422, "invalid_input", b'{"uscc": ZZECHOZZ'),
        Case("truncated_json", 422, "invalid_input", b'{"uscc": "9144'),
        Case("trailing_garbage", 422, "invalid_input", pre() + b" ZZECHOZZ"),
        Case("bad_utf8", 400, "bad_request", b'{"uscc": "\xff\xfeZZECHOZZ"}'),
        Case("empty_body", 422, "invalid_input", b"", headers=as_json),
        Case(
            "text_plain",
            422,
            "invalid_input",
            MARKER.encode(),
            headers={"content-type": "text/plain"},
        ),
        Case(
            "json_as_text_plain",
            422,
            "invalid_input",
            pre(),
            headers={"content-type": "text/plain"},
        ),
        Case(
            "form_encoded",
            422,
            "invalid_input",
            f"uscc={MARKER}".encode(),
            headers={"content-type": "application/x-www-form-urlencoded"},
        ),
    ]


def _batches() -> list[Case]:
    batch = "/v1/preapprovals/batch"
    return [
        Case(
            "batch_too_large",
            422,
            "batch_too_large",
            j({"items": [{"uscc": VALID}] * (MAX_BATCH + 1)}),
            path=batch,
        ),
        Case("batch_empty", 422, "invalid_input", j({"items": []}), path=batch),
        Case("batch_items_object", 422, "invalid_input", j({"items": {"uscc": VALID}}), path=batch),
        Case("batch_items_missing", 422, "invalid_input", j({"uscc": VALID}), path=batch),
        Case(
            "batch_item_nan",
            422,
            "invalid_input",
            raw('{"items": [{"uscc": "VALID", "requested_amount_cny": NaN}]}'),
            path=batch,
        ),
        Case(
            "batch_item_extra",
            422,
            "invalid_input",
            j({"items": [{"uscc": VALID, "x": MARKER}]}),
            path=batch,
        ),
    ]


def _outcomes() -> list[Case]:
    key = "Idempotency-Key"
    return [
        outcome_case("default_without_date", out(default_flag=True)),
        outcome_case("date_without_default", out(default_date="2025-03-01")),
        outcome_case("observed_before_application", out(observation_date="2024-12-31")),
        outcome_case("date_month_13", out(application_date="2025-13-01")),
        outcome_case("date_feb_30", out(application_date="2025-02-30")),
        outcome_case("date_word", out(application_date="yesterday " + MARKER)),
        outcome_case("date_empty", out(observation_date="")),
        outcome_case(
            "date_missing", j({k: v for k, v in OUTCOME.items() if k != "observation_date"})
        ),
        outcome_case("dpd_negative", out(max_dpd=-1)),
        outcome_case("dpd_huge", out(max_dpd=10_001)),
        outcome_case("dpd_history_negative", out(dpd_history=[0, -1])),
        outcome_case("dpd_history_121_months", out(dpd_history=[0] * 121)),
        outcome_case("outcome_amount_negative", out(granted_amount_cny=-1.0)),
        outcome_case("outcome_amount_nan", raw(json.dumps(OUTCOME).replace("200000.0", "NaN"))),
        outcome_case("default_flag_null", out(default_flag=None)),
        outcome_case("loan_id_empty", out(loan_id="")),
        outcome_case("loan_id_65_chars", out(loan_id=MARKER * 8 + "x")),
        outcome_case("loan_id_number", out(loan_id=123)),
        outcome_case("outcome_bad_uscc", out(uscc=MARKER), "invalid_uscc"),
        outcome_case("outcomes_empty", j({"outcomes": []})),
        outcome_case(
            "outcomes_too_many",
            j({"outcomes": [OUTCOME] * (MAX_BATCH * 10 + 1)}),
            "batch_too_large",
        ),
        outcome_case("idempotency_key_empty", out(), headers={key: ""}),
        outcome_case("idempotency_key_201_chars", out(), headers={key: "k" * 201}),
        outcome_case(
            "idempotency_key_control_char",
            out(),
            headers={key: MARKER + "\x01"},
            status=400,
            code="invalid_http",
        ),  # refused by the HTTP parser
        outcome_case("idempotency_key_tab", out(), headers={key: "a\tb"}),
        outcome_case(
            "idempotency_key_del", out(), headers={key: "a\x7fb"}, status=400, code="invalid_http"
        ),
        outcome_case("lax_amount_string", out(loan_id="lax-1", granted_amount_cny="200000")),
        outcome_case("lax_amount_bool", out(loan_id="lax-2", granted_amount_cny=True)),
        outcome_case("lax_flag_string", out(loan_id="lax-3", default_flag="no")),
        outcome_case(
            "lax_date_int", out(loan_id="lax-4", application_date="1970-01-01", observation_date=0)
        ),
        outcome_case("future_observation", out(loan_id="future-1", observation_date="9999-12-31")),
        # issue 14: refusals name a plain loan id (the bank's own); an unusual one is withheld
        outcome_case("loan_id_echo", out(loan_id=MARKER + "<b>", default_flag=True)),
    ]


def _auth() -> list[Case]:
    key = "pc_bank_a_" + "A" * 40
    cases = {
        "no_authorization": None,
        "basic": "Basic " + MARKER,
        "empty_bearer": "Bearer",
        "foreign_format": "Bearer sk_live_" + MARKER,
        "unknown_wellformed": "Bearer " + key,
        "token_scheme": "Token " + key,
        "key_5000_chars": "Bearer " + "x" * 5000,
        "key_and_more": f"Bearer {key} {MARKER}",
    }
    refused = [
        Case(
            f"auth_{name}",
            401,
            "unauthorized",
            pre(),
            key=None,
            headers={"Authorization": value} if value else {},
        )
        for name, value in cases.items()
    ]
    return [
        *refused,
        Case("auth_revoked", 401, "unauthorized", pre(), key="revoked_a"),
        Case(
            "auth_models_without_key",
            401,
            "unauthorized",
            method="GET",
            path="/v1/models",
            key=None,
        ),
        Case(
            "auth_decision_without_key",
            401,
            "unauthorized",
            method="GET",
            path="/v1/decisions/x",
            key=None,
        ),
        outcome_case("scope_missing_outcomes", out(), "forbidden", status=403, key="score_only_a"),
    ]


def _paths() -> list[Case]:
    return [
        Case("unknown_path", 404, "not_found", method="GET", path=f"/v1/{MARKER}"),
        Case("unknown_subpath", 404, "not_found", method="GET", path=f"/v1/preapprovals/{MARKER}"),
        Case("wrong_method_get", 405, "method_not_allowed", method="GET"),
        Case(
            "wrong_method_put", 405, "method_not_allowed", out(), method="PUT", path="/v1/outcomes"
        ),
        Case(
            "wrong_method_delete",
            405,
            "method_not_allowed",
            method="DELETE",
            path="/v1/decisions/x",
        ),
        Case(
            "wrong_method_replay",
            405,
            "method_not_allowed",
            method="GET",
            path="/v1/decisions/x/replay",
        ),
        Case(
            "decision_id_10000_chars",
            404,
            "not_found",
            method="GET",
            path="/v1/decisions/" + MARKER * 1250,
        ),
        Case(
            "decision_id_random",
            404,
            "not_found",
            method="GET",
            path="/v1/decisions/00000000-0000-4000-8000-000000000000",
        ),
        Case(
            "decision_id_nul", 422, "invalid_input", method="GET", path=f"/v1/decisions/%00{MARKER}"
        ),
        Case("uscc_charset_nul", 422, "invalid_input", pre(uscc="\x00" * 18)),
        Case("replay_unknown", 404, "not_found", path=f"/v1/decisions/{MARKER}/replay"),
    ]


def dispute(**fields: Any) -> bytes:
    """A dispute body naming a penalty record, with `fields` replacing or adding members."""
    body = {"uscc": VALID, "record": {"table": "penalties", "record_id": "PEN-1"},
            "claim": "the fine was paid", "evidence_sha256": "ab" * 32}  # fmt: skip
    return j(body | fields)


def dispute_case(name: str, body: bytes, code: str = "invalid_input", **kw: Any) -> Case:
    """A refused dispute (422 unless told)."""
    return Case(name, kw.pop("status", 422), code, body, path="/v1/disputes", **kw)


def _disputes() -> list[Case]:
    return [
        dispute_case(
            "dispute_unknown_record",
            dispute(record={"table": "penalties", "record_id": MARKER}),
            "unknown_record",
        ),
        dispute_case("dispute_table_marker", dispute(record={"table": MARKER, "record_id": "1"})),
        dispute_case(
            "dispute_table_not_disputable",
            dispute(record={"table": "quarantine", "record_id": MARKER}),
        ),
        dispute_case("dispute_claim_nul", dispute(claim=f"paid\x00{MARKER}")),
        dispute_case("dispute_claim_escape", dispute(claim=f"\x1b[31m{MARKER}")),
        dispute_case("dispute_claim_too_long", dispute(claim=MARKER * 300)),
        dispute_case("dispute_evidence_marker", dispute(evidence_sha256=MARKER * 8)),
        dispute_case(
            "dispute_both_targets", dispute(reason={"decision_id": "0" * 32, "feature": MARKER})
        ),
        dispute_case("dispute_kind_marker", dispute(kind=MARKER)),
        dispute_case(
            "dispute_reason_unknown_decision",
            dispute(record=None, reason={"decision_id": "0" * 32, "feature": MARKER}),
            "not_found",
            status=404,
        ),
        Case("dispute_unknown_id", 404, "not_found", method="GET", path=f"/v1/disputes/{MARKER}"),
        Case(
            "dispute_state_by_a_bank",
            403,
            "forbidden",
            j({"state": "checking", "answer": "x"}),
            path=f"/v1/disputes/{MARKER}/state",
        ),
        Case(
            "advice_bad_code",
            422,
            "invalid_uscc",
            method="GET",
            path=f"/v1/entities/{MARKER}0000000000/advice",
        ),
    ]


CORPUS = [*_codes(), *_types(), *_amounts(), *_bodies(), *_batches(), *_outcomes(), *_auth(),
          *_paths(), *_disputes()]  # fmt: skip


def _param(case: Case) -> Any:
    marks = (
        [pytest.mark.xfail(strict=True, reason=FINDINGS[case.name])]
        if case.name in FINDINGS
        else []
    )
    return pytest.param(case, id=case.name, marks=marks)


def send(api: LiveApi, case: Case) -> httpx.Response:
    """Send one case exactly as written (raw bytes, chunked when asked)."""
    headers = dict(case.headers)
    if case.body and not any(k.lower() == "content-type" for k in headers):
        headers["content-type"] = "application/json"
    content: bytes | Iterator[bytes] | None = case.body
    if case.chunked and case.body is not None:
        content = iter([case.body[i : i + 8192] for i in range(0, len(case.body), 8192)])
    with httpx.Client(base_url=api.base_url, timeout=30) as client:
        key = getattr(api.keys, case.key) if case.key else None
        if key:
            headers.setdefault("Authorization", f"Bearer {key}")
        return client.request(case.method, case.path, content=content, headers=headers)


def test_the_corpus_is_large_and_names_are_unique() -> None:
    assert len(CORPUS) >= 60
    assert len({case.name for case in CORPUS}) == len(CORPUS)
    assert set(FINDINGS) <= {case.name for case in CORPUS}


@pytest.mark.parametrize("case", [_param(case) for case in CORPUS])
def test_bad_request_is_refused_cleanly(sqlite_api: LiveApi, case: Case) -> None:
    before = sqlite_api.counts()
    response = send(sqlite_api, case)
    assert response.status_code == case.status, response.text[:500]
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == case.code
    assert isinstance(error["message"], str)
    assert error["message"]
    text = response.text
    assert "Traceback" not in text
    assert 'File "' not in text
    assert MARKER not in text
    if case.body is not None and len(case.body) >= 16:
        assert case.body.decode(errors="ignore") not in text
    if case.status == 401:
        assert response.headers["WWW-Authenticate"] == "Bearer"
    assert sqlite_api.counts() == before


# --- inputs that look odd but are valid: answered, and only these add rows -------------------


def test_full_width_and_padded_lower_case_codes_are_accepted(sqlite_api: LiveApi) -> None:
    code = sqlite_api.codes[0]
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in code)  # ASCII -> FULLWIDTH FORMS
    client = sqlite_api.client(sqlite_api.keys.bank_a)
    before = sqlite_api.counts()["decisions"]
    for spelling in (full_width, f" \t{code.lower()}  "):
        response = client.post("/v1/preapprovals", json={"uscc": spelling})
        assert response.status_code == 200, response.text
        assert response.json()["uscc"] == code
    assert sqlite_api.counts()["decisions"] == before + 2


def test_a_null_requested_amount_means_none_asked(sqlite_api: LiveApi) -> None:
    response = sqlite_api.client(sqlite_api.keys.bank_a).post(
        "/v1/preapprovals", json={"uscc": sqlite_api.codes[0], "requested_amount_cny": None}
    )
    assert response.status_code == 200
    assert response.json()["approved_amount_cny"] is None
