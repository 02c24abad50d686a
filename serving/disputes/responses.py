"""Response bodies of `/v1/disputes` (2xx), each with an example."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

CASE_EXAMPLE: dict[str, JsonValue] = {
    "dispute_id": "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f",
    "kind": "dispute",
    "uscc": "91441500MA4UK8XQ3C",
    "filed_by": "bank_a",
    "state": "checking",
    "record": {
        "table": "penalties",
        "record_id": "PEN-2025-000123",
        "version": 1,
        "department": "汕尾市市场监督管理局",
    },
    "reason": None,
    "claim": "罚款已于2025-10-01缴清，处罚决定已被撤销 / the fine was paid and the decision revoked",
    "evidence_sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "received_at": "2026-09-29T02:15:00+00:00",
    "due_date": "2026-10-08",
    "due_date_unknown": False,
    "overdue": False,
    "answer": "已受理，正在核查 / received, being checked",
    "closed_at": None,
    "events": [
        {
            "at": "2026-09-29T02:15:00+00:00",
            "actor": "tenant:bank_a",
            "from_state": None,
            "to_state": "received",
            "note": None,
        },
        {
            "at": "2026-09-29T03:00:00+00:00",
            "actor": "key:2b7e1516-28ae-4d2a-a6d2-15884ff0a1c3",
            "from_state": "received",
            "to_state": "checking",
            "note": "已受理，正在核查 / received, being checked",
        },
    ],
}


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CaseRecord(_Out):
    """The store record a case names: table, id, the version disputed, its department."""

    table: str
    record_id: str
    version: int
    department: str | None


class CaseReason(_Out):
    """The reason a decision of the filer cited."""

    decision_id: str
    feature: str


class CaseEvent(_Out):
    """One step of the audit trail."""

    at: str
    actor: str = Field(description="`tenant:<id>` (filing), `key:<id>`, or `system:reconcile`")
    from_state: str | None
    to_state: str
    note: str | None


class DisputeOut(_Out):
    """A dispute or repair application, its deadline (2 Chinese working days) and its trail."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, json_schema_extra={"examples": [CASE_EXAMPLE]}
    )

    dispute_id: str
    kind: Literal["dispute", "repair"]
    uscc: str
    filed_by: str
    state: Literal["received", "checking", "corrected", "rejected"]
    record: CaseRecord | None
    reason: CaseReason | None
    claim: str
    evidence_sha256: str
    received_at: str
    due_date: str | None = Field(
        description="last day to answer (China time); null while the working-day calendar "
        "does not know the year (see due_date_unknown)"
    )
    due_date_unknown: bool
    overdue: bool
    answer: str | None
    closed_at: str | None
    events: list[CaseEvent]


class DisputeList(_Out):
    """Cases, newest first (at most 500): a filer's own, or every case for an operator."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, json_schema_extra={"examples": [{"disputes": [CASE_EXAMPLE]}]}
    )

    disputes: list[DisputeOut]
