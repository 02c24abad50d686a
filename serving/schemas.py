"""Request bodies of the API: strict types, bounded sizes, finite numbers, no extra fields.

Strict means what a JSON client sends is what it meant: a number is never read from a
string, a flag never from "no", a date only from an ISO "YYYY-MM-DD" string.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal

from fastapi import Path
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from training.table_slug import TABLE_SLUG

PRINTABLE = r"^[^\x00-\x1f\x7f]+$"
Text = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=PRINTABLE)]
USCC_PATTERN = r"^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$"
USCC_DESCRIPTION = "unified social credit code (统一社会信用代码), 18 characters (GB 32100)"
# The canonical form is documented, not enforced here: `catalog.uscc` normalises (NFKC, trim,
# upper case), then refuses with its reason (`invalid_uscc`), and a batch item fails alone.
Code = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64),
    Field(
        description=USCC_DESCRIPTION,
        json_schema_extra={"pattern": USCC_PATTERN, "examples": ["91110108MA01A2B32G"]},
    ),
]
Money = Annotated[float, Field(ge=0, le=1e12, allow_inf_nan=False, strict=True)]
Flag = Annotated[bool, Field(strict=True)]


ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _iso_date(value: object) -> object:
    """Only a calendar date: pydantic's lax mode would also read a midnight timestamp."""
    if isinstance(value, str) and ISO_DATE.fullmatch(value):
        return value
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    raise ValueError("a date is a string in the form YYYY-MM-DD")


IsoDate = Annotated[dt.date, BeforeValidator(_iso_date)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class PreapprovalIn(_Strict):
    """One question: a credit code, optionally a product and a requested amount."""

    uscc: Code
    product: Text = "sme_credit"
    requested_amount_cny: Annotated[float, Field(gt=0, le=1e12, allow_inf_nan=False)] | None = None


class PreapprovalBatchIn(_Strict):
    """Several questions; each is answered on its own."""

    items: Annotated[list[PreapprovalIn], Field(min_length=1)]


LinkId = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9a-f-]{32,36}$"),
    Field(description="the bank's own decision, offer or financing request id (else 404)"),
]


class OutcomeIn(BaseModel):
    """A loan's actual result as the bank observed it on `observation_date`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    loan_id: Text
    uscc: Code
    application_date: IsoDate
    granted_amount_cny: Money
    drawn_amount_cny: Money
    default_flag: Flag
    default_date: IsoDate | None = None
    max_dpd: Annotated[int, Field(ge=0, le=10_000, strict=True)] | None = None
    dpd_history: (
        Annotated[list[Annotated[int, Field(ge=0, le=10_000, strict=True)]], Field(max_length=120)]
        | None
    ) = None
    observation_date: IsoDate
    decision_id: LinkId | None = None
    offer_id: LinkId | None = None
    financing_request_id: LinkId | None = None
    explore: Annotated[
        bool,
        Field(
            strict=True,
            description="a randomised test approval of an applicant the policy declined "
            "(the bank's unbiased sample)",
        ),
    ] = False
    first_loan: Annotated[
        bool | None,
        Field(
            strict=True,
            description="首贷: the enterprise's first loan from any bank, as the bank learns it "
            "from the credit bureau (null: not reported)",
        ),
    ] = None
    security: Annotated[
        Literal["credit", "guarantee", "collateral", "pledge"] | None,
        Field(
            description="担保方式: credit (信用, unsecured), guarantee (保证), collateral (抵押) "
            "or pledge (质押); null: not reported"
        ),
    ] = None


class OutcomeBatchIn(BaseModel):
    """Several loans at once."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    outcomes: Annotated[list[OutcomeIn], Field(min_length=1)]


class RetrainIn(BaseModel):
    """Retrain the tenant's model on its matured outcomes (as of a date, default today)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    as_of: IsoDate | None = None


class PromoteIn(_Strict):
    """Promote a registered version (normally the challenger) to champion.

    The approver is the key that sends this (never a name in the body); it must not be the key
    that requested the retraining. A gate-failed version needs `override_reason` (>= 20 chars).
    """

    version: Annotated[str, StringConstraints(pattern=r"^[0-9]{1,9}$")]
    reason: Annotated[str, StringConstraints(min_length=3, max_length=1000, strip_whitespace=True)]
    override_reason: (
        Annotated[str, StringConstraints(min_length=20, max_length=1000, strip_whitespace=True)]
        | None
    ) = None
    public_records_only: Flag = Field(
        False,
        description="operators: promote the public-records-only platform model "
        "(precredit-platform_public), served under consents to public records only",
    )
    table: Annotated[str, StringConstraints(pattern=f"^{TABLE_SLUG}$")] | None = Field(
        None,
        description="promote the bank's model of its own table `precredit-<bank>-table-<table>`",
    )


class FinancingRequestIn(_Strict):
    """An entity's financing request, as the SME financing platform sends it."""

    uscc: Code
    amount_cny: Annotated[float, Field(gt=0, le=1e10, allow_inf_nan=False)]
    term_months: Annotated[int, Field(ge=1, le=360)]
    purpose: Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=PRINTABLE)]


class WatchIn(_Strict):
    """Entities a bank wants warnings about."""

    codes: Annotated[list[Code], Field(min_length=1, max_length=1_000)]
    source: Literal["borrower", "offer", "other"] = "borrower"


ColumnName = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=PRINTABLE)]
Cell = (
    Annotated[float, Field(allow_inf_nan=False)]
    | Annotated[str, StringConstraints(max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$")]
    | None
)


class TableScoreIn(_Strict):
    """Rows of the bank's own table, as in the file its table model was trained on.

    Each row maps a column name to its value: a number, a text (a category, or a number
    written as text) or null (missing). Columns the model does not read are ignored. A model
    trained with `--join-platform` needs `codes`, one credit code per row.
    """

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        frozen=True,
        json_schema_extra={
            "examples": [{"rows": [{"Seniority": 9, "Home": "rent", "Income": 126}], "top": 5}]
        },
    )

    rows: Annotated[
        list[Annotated[dict[ColumnName, Cell], Field(min_length=1, max_length=500)]],
        Field(min_length=1, max_length=1_000),
    ]
    top: Annotated[int, Field(ge=0, le=20)] = 5
    product: Text | None = None
    codes: Annotated[list[Code], Field(min_length=1, max_length=1_000)] | None = Field(
        None,
        description="each row's credit code, for a model trained with --join-platform: its "
        "platform features come from the snapshot in service",
    )


TableSlug = Annotated[
    str,
    Path(
        pattern=f"^{TABLE_SLUG}$",
        description="the table model's slug: precredit-<bank>-table-<slug> in the registry",
        json_schema_extra={"examples": ["loans"]},
    ),
]
CodeInPath = Annotated[
    str,
    Path(
        description=USCC_DESCRIPTION,
        json_schema_extra={"pattern": USCC_PATTERN, "examples": ["91110108MA01A2B32G"]},
    ),
]


class WebhookIn(_Strict):
    """A bank's endpoint for events: an https URL and the event types it wants (all if none)."""

    url: Annotated[str, Field(min_length=8, max_length=2_000)]
    events: Annotated[list[str], Field(min_length=1, max_length=10)] | None = None


CLAIM_TEXT = r"^[^\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]+$"
Sha256 = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9a-f]{64}$"),
    Field(description="SHA-256 of the evidence file, 64 lower-case hex characters"),
]


class DisputedRecord(_Strict):
    """A record of the platform store: its catalog table and record id."""

    table: Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=r"^[a-z_]+$")]
    record_id: Text


class CitedReason(_Strict):
    """A reason a decision of yours cited: the decision id and the reason's feature or code."""

    decision_id: LinkId
    feature: Annotated[
        str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_]+$")
    ]


class DisputeIn(_Strict):
    """An objection (异议) to a record or a cited reason, or a credit-repair application.

    Name exactly one of `record` and `reason` (a repair names the penalty `record`). The claim
    is plain text: line breaks are kept, other control characters refused.
    """

    uscc: Code
    kind: Literal["dispute", "repair"] = "dispute"
    record: DisputedRecord | None = None
    reason: CitedReason | None = None
    claim: Annotated[str, StringConstraints(min_length=1, max_length=2_000, pattern=CLAIM_TEXT)]
    evidence_sha256: Sha256


class DisputeStateIn(_Strict):
    """An operator's step: the new state and the answer given (plain text, line breaks kept)."""

    state: Literal["checking", "corrected", "rejected"]
    answer: Annotated[str, StringConstraints(min_length=1, max_length=2_000, pattern=CLAIM_TEXT)]


class ConsentIn(BaseModel):
    """An enterprise's authorisation for a bank to use its data (the signed document's hash).

    A bank's key records consents for itself; the SME financing platform's key records them on
    the enterprise's behalf for the bank named in `bank`. At most three years long.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    uscc: Code
    scope: Annotated[
        list[Literal["public_records", "tax", "social_insurance", "utilities"]],
        Field(min_length=1, max_length=4),
    ]
    purpose: Literal["preapproval", "monitoring"] = "preapproval"
    starts_on: IsoDate
    expires_on: IsoDate
    evidence_sha256: Annotated[
        str,
        StringConstraints(pattern=r"^[0-9a-f]{64}$"),
        Field(description="SHA-256 (64 lowercase hex) of the signed authorisation document"),
    ]
    bank: (
        Annotated[
            str,
            StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,31}$"),
            Field(description="the bank it authorises (the financing platform's key only)"),
        ]
        | None
    ) = None


MODELS = (WatchIn, PreapprovalIn, PreapprovalBatchIn, OutcomeIn, OutcomeBatchIn, RetrainIn, PromoteIn,
          FinancingRequestIn, WebhookIn, DisputeIn, DisputedRecord, CitedReason, DisputeStateIn,
          ConsentIn, TableScoreIn)  # fmt: skip
