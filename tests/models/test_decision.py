"""The typed decision answers the JSON banks have always received (no client breaks)."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from models.decision import Decision, ModelRef, Reason, RecordedDecision

ANSWER_KEYS = {  # the answer's keys before it was typed (README, tests/serving/test_api.py)
    "uscc", "product", "decision", "limit_cny", "pd", "grade", "grade_label", "binding",
    "failed_gates", "approved_amount_cny", "reasons", "limit_drivers", "snapshot_as_of",
    "model", "policy_version",
    # added for issue 14: the policy's fingerprint and rate, decline and limit texts
    "policy_fingerprint", "indicative_rate", "decline_reasons", "limit_explained",
    # and the consent's data scope (the consent id only when the bank requires consent)
    "data_scope",
}  # fmt: skip
REASON = {
    "code": "TAX_PAID_CNY_12M",
    "feature": "tax_paid_cny_12m",
    "text_zh": "近12个月纳税额：0.0（提高风险）",
    "text_en": "Tax paid, 12 months: 0.0 (raises risk)",
    "value": 0.0,
    "contribution": 0.25,
    "direction": "raises_risk",
}


def decision(**changes: object) -> Decision:
    fields: dict[str, object] = {
        "uscc": "91350100M000100Y43",
        "product": "working_capital",
        "decision": "decline",
        "limit_cny": 0.0,
        "pd": 0.2,
        "grade": 10,
        "grade_label": "G10",
        "binding": "gate:no_tax_paid",
        "failed_gates": ["gate:no_tax_paid"],
        "approved_amount_cny": None,
        "reasons": [REASON],
        "limit_drivers": [{"feature": "tax_paid_cny_12m", "value": 0.0, "role": "gate"}],
        "snapshot_as_of": "2025-12-31",
        "model": {"name": "precredit-platform", "version": "1", "fingerprint": "f" * 64},
        "policy_version": "2025.1",
        "policy_fingerprint": "b" * 64,
        "indicative_rate": None,
        "decline_reasons": [
            {"text_zh": "近12个月未纳税", "text_en": "no tax paid in the last 12 months"}
        ],
        "limit_explained": {"text_zh": "拒绝，额度为0元", "text_en": "declined: limit CNY 0"},
        "data_scope": ["public_records", "social_insurance", "tax", "utilities"],
        "input_hash": "a" * 64,
    }
    return Decision.model_validate(fields | changes)


def test_the_json_has_the_old_keys_and_no_input_hash_or_unset_flag() -> None:
    body = decision().model_dump(mode="json")
    assert set(body) == ANSWER_KEYS
    assert body["reasons"] == [REASON]
    assert json.loads(decision().model_dump_json()) == body


def test_a_flagged_code_is_answered_with_its_flag_and_the_record_with_its_id() -> None:
    flagged = decision(uscc_flag="check_char")
    recorded = RecordedDecision.of(flagged, "d-1").model_dump(mode="json")
    assert recorded == flagged.model_dump(mode="json") | {"decision_id": "d-1"}
    assert recorded["uscc_flag"] == "check_char"
    assert RecordedDecision.of(flagged, "d-1").input_hash == "a" * 64


def test_the_consent_id_is_answered_only_when_set() -> None:
    body = decision(consent_id="c-1").model_dump(mode="json")
    assert body["consent_id"] == "c-1"
    assert set(body) == ANSWER_KEYS | {"consent_id"}


@pytest.mark.parametrize(
    "change",
    [{"decision": "maybe"}, {"reasons": [REASON | {"direction": "up"}]}, {"extra": 1}],
)
def test_a_malformed_decision_is_refused(change: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        decision(**change)


def test_decisions_are_frozen() -> None:
    with pytest.raises(ValidationError):
        decision().limit_cny = 1.0  # type: ignore[misc]
    assert isinstance(decision().model, ModelRef)
    assert isinstance(decision().reasons[0], Reason)
