"""The pre-approval decision as typed values, and the one input hash every path records.

`Preapproval` is what the model decides for one feature row; `Decision` is the answer a bank
receives (the pre-approval with the request, snapshot date, model and policy). Both are frozen
pydantic models, so the API uses them as its response models; `model_dump(mode="json")` gives
the JSON the API has always answered (field names unchanged, `uscc_flag` only when set, the
input hash recorded but not answered).

`input_hash` is defined here once: single answers, batch answers, financing answers, offers
and the decisions audit all record the same hash for the same entity and snapshot.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator, Sequence
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, JsonValue

DecisionKind = Literal["approve", "refer", "decline"]
Direction = Literal["raises_risk", "lowers_risk"]
DriverRole = Literal["capacity", "multiplier", "cap", "gate", "decision"]
SEPARATOR = b"\x1f"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Reason(_Frozen):
    """One reason: stable code, texts, the feature's value and its contribution (log-odds)."""

    code: str = Field(examples=["TAX_PAID_CNY_12M"])
    feature: str = Field(examples=["tax_paid_cny_12m"])
    text_zh: str
    text_en: str
    value: float | str | None = Field(description="as a loan officer reads it; null: missing")
    contribution: float = Field(description="TreeSHAP contribution to the log-odds of default")
    direction: Direction


class Wording(_Frozen):
    """A sentence for a loan officer, in Chinese and English."""

    text_zh: str
    text_en: str


class LimitDriver(_Frozen):
    """An input behind the limit, with its role in setting it."""

    feature: str
    value: float | None
    role: DriverRole


class Preapproval(_Frozen):
    """The model's decision for one feature row: limit, PD, grade, binding rule and reasons."""

    decision: DecisionKind
    limit_cny: float
    capacity_cny: float
    capacity_source: str
    multiplier: float
    cap_cny: float
    binding: str = Field(description="the one rule that set the limit or the decline")
    failed_gates: list[str]
    drivers: list[LimitDriver]
    pd: float = Field(ge=0.0, le=1.0)
    grade: int = Field(ge=1, description="1-based grade on the master scale")
    grade_label: str
    raw_score: float
    base_value: float
    decline_reasons: list[Wording] = Field(description="why it declined, the deciding rule first")
    reasons: list[Reason]
    limit_explained: Wording = Field(description="the limit in words, from the policy")


class ModelRef(_Frozen):
    """The model version that decided."""

    name: str
    version: str
    fingerprint: str = Field(description="SHA-256 over the model's artifacts")


class Decision(_Frozen):
    """A bank's answer for one entity, as the API returns and the audit stores it."""

    uscc: str
    uscc_flag: str | None = Field(
        default=None,
        exclude_if=lambda flag: flag is None,  # answered only for a flagged code
        description="a registered pilot-era code failing a check: the reason",
    )
    product: str
    decision: DecisionKind
    limit_cny: float
    pd: float
    grade: int
    grade_label: str
    binding: str
    failed_gates: list[str]
    approved_amount_cny: float | None
    decline_reasons: list[Wording] = Field(
        description="a decline's rules in words (the failing gate first), before any PD reason"
    )
    reasons: list[Reason]
    limit_drivers: list[LimitDriver]
    limit_explained: Wording
    snapshot_as_of: str
    model: ModelRef
    policy_version: str
    policy_fingerprint: str = Field(description="SHA-256 of the product policy that decided")
    indicative_rate: float | None = Field(
        description="the policy's indicative annual rate for this grade (rate band); null: none"
    )
    data_scope: list[str] = Field(
        description="the consent scopes of the data the model read (public_records, tax, "
        "social_insurance, utilities): public_records alone means the public-records-only model"
    )
    consent_id: str | None = Field(
        default=None,
        exclude_if=lambda consent: consent is None,  # answered when the bank requires consent
        description="the enterprise's consent this answer was given under",
    )
    input_hash: str = Field(exclude=True, description="recorded in the audit, not answered")


def canonical_inputs(matrix: NDArray[np.float64]) -> NDArray[np.float64]:
    """Inputs as hashed: little-endian float64, one NaN, no negative zero."""
    values = np.asarray(matrix, dtype="<f8") + 0.0  # a copy; -0.0 + 0.0 is 0.0
    values[np.isnan(values)] = np.nan
    return np.ascontiguousarray(values)


def input_hash(uscc: str, product: str, as_of: dt.date | str, inputs: NDArray[np.float64]) -> str:
    """SHA-256 of code, product, snapshot date and the model's inputs (in model order).

    `sha256(uscc 0x1f product 0x1f as_of 0x1f float64-LE inputs)`: it changes exactly when the
    inputs do; with the model version it makes any answer reproducible from the snapshot.
    """
    row = np.asarray(inputs, dtype=np.float64).reshape(1, -1)
    return input_hashes([uscc], product, [as_of], row)[0]


def input_hashes(
    codes: Sequence[str],
    product: str,
    days: Sequence[dt.date | str],
    matrix: NDArray[np.float64],
) -> list[str]:
    """`input_hash` of every row of `matrix` (rows x inputs), canonicalised at once."""
    tail = SEPARATOR + product.encode() + SEPARATOR
    heads = [
        code.encode() + tail + (day if isinstance(day, str) else day.isoformat()).encode()
        for code, day in zip(codes, days, strict=True)
    ]
    return [hashlib.sha256(message).hexdigest() for message in _messages(heads, matrix)]


def inputs_digests(codes: Sequence[str], product: str, matrix: NDArray[np.float64]) -> list[bytes]:
    """Per row, SHA-256 of code, product and the model's inputs: `input_hash` without the date.

    What an incremental offers run compares: the same inputs on a later snapshot date give the
    same decision, so an entity is re-scored only when its inputs (or the model) change.
    """
    suffix = SEPARATOR + product.encode()
    heads = [code.encode() + suffix for code in codes]
    return [hashlib.sha256(message).digest() for message in _messages(heads, matrix)]


def _messages(heads: Sequence[bytes], matrix: NDArray[np.float64]) -> Iterator[bytes]:
    """Per row: its head, the separator and its canonical inputs (one conversion for all rows)."""
    values = canonical_inputs(matrix)
    if len(heads) != len(values):
        raise ValueError(f"{len(heads)} codes for {len(values)} input rows")
    data = values.tobytes()
    width = values.shape[1] * 8 if values.ndim == 2 else 0
    for i, head in enumerate(heads):
        yield head + SEPARATOR + data[i * width : (i + 1) * width]


EXAMPLE: dict[str, JsonValue] = {
    "decision_id": "0f8e9b6c2a7d4e51b3c9a1d2e4f60718",
    "uscc": "91441500MA4UK8XQ3C",
    "product": "working_capital",
    "decision": "approve",
    "limit_cny": 800000.0,
    "pd": 0.0213,
    "grade": 3,
    "grade_label": "A",
    "binding": "capacity:tax",
    "failed_gates": [],
    "approved_amount_cny": 500000.0,
    "decline_reasons": [],
    "reasons": [
        {
            "code": "TAX_PAID_CNY_12M",
            "feature": "tax_paid_cny_12m",
            "text_zh": "近12个月纳税额较高",
            "text_en": "High tax paid in the last 12 months",
            "value": 412000.0,
            "contribution": -0.41,
            "direction": "lowers_risk",
        }
    ],
    "limit_drivers": [{"feature": "tax_paid_cny_24m", "value": 790000.0, "role": "capacity"}],
    "limit_explained": {
        "text_zh": "年均纳税395,000元 × 8倍 × 系数0.75（等级G03，违约概率2.13%）= 800,000元（向下取整至千元）",
        "text_en": "average annual tax CNY 395,000 × 8 × 0.75 for grade G03 (PD 2.13%) = CNY 800,000 "
        "(rounded down to CNY 1,000)",
    },
    "snapshot_as_of": "2025-12-31",
    "model": {"name": "precredit-platform", "version": "3", "fingerprint": "9c1d" * 16},
    "policy_version": "working_capital@1",
    "policy_fingerprint": "5b2e" * 16,
    "indicative_rate": 0.0435,
    "data_scope": ["public_records", "social_insurance", "tax", "utilities"],
    "consent_id": "3b7a1c52-9e0d-4f6a-8c21-5d4e7f9a0b13",
}
"""A recorded answer as the API documents it (its example)."""


class RecordedDecision(Decision):
    """A decision once the audit has recorded it: the answer a bank receives."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", json_schema_extra={"examples": [EXAMPLE]}
    )

    decision_id: str = Field(description="the audit record's id (replayable)")

    @classmethod
    def of(cls, decision: Decision, decision_id: str) -> RecordedDecision:
        """`decision` with the id its audit record got (already validated: not again)."""
        fields = decision.__dict__ | {"decision_id": decision_id}
        return cls.model_construct(_fields_set=set(fields), **fields)
