"""Response bodies of the API (2xx), each with an example; decisions come from `models/`.

They describe what the routes already answer: the routes build these from the services'
results, and FastAPI validates and documents them (`/openapi.json`, `/docs`).
"""

from __future__ import annotations

from typing import Literal

from fastapi import Response
from pydantic import MISSING, BaseModel, ConfigDict, Field, JsonValue

from models.decision import EXAMPLE, Decision, RecordedDecision, Wording
from serving.disputes.responses import DisputeList as DisputeList  # declared by their routes
from serving.disputes.responses import DisputeOut as DisputeOut
from serving.errors import ErrorDetail
from serving.monitor.result import LinkedRow
from serving.validation.result import ValidationPack

JsonObject = dict[str, JsonValue]


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def answered(body: BaseModel) -> Response:
    """`body` as the JSON response, serialised once by its own model.

    For hot routes (pre-approvals): a sync route returning a model makes FastAPI validate it
    again on a second thread-pool hop; `body` was built from validated values, so the route
    declares its `response_model` and answers this instead. The JSON is the same.
    """
    return Response(body.__pydantic_serializer__.to_json(body), media_type="application/json")


def _example(**fields: JsonValue) -> ConfigDict:
    return ConfigDict(extra="forbid", frozen=True, json_schema_extra={"examples": [fields]})


# --- operations ------------------------------------------------------------------------------


class Health(_Out):
    """The process answers."""

    model_config = _example(status="ok")

    status: Literal["ok"]


class ReadinessChecks(_Out):
    """Each dependency of a ready process."""

    snapshot: bool
    service_db: bool
    model: bool


class Readiness(_Out):
    """Ready only when every check passes (then 200, otherwise 503 with the same body)."""

    model_config = _example(
        ready=True, checks={"snapshot": True, "service_db": True, "model": True}
    )

    ready: bool
    checks: ReadinessChecks


# --- models and jobs -------------------------------------------------------------------------


class ServedVersion(_Out):
    """The registered model version answering this bank now."""

    name: str
    version: str


class ServedModel(ServedVersion):
    """The version answering this bank now, with the fingerprint of its artifacts."""

    fingerprint: str


class ModelVersion(_Out):
    """A registered version behind an alias, with its validation metrics and tags."""

    name: str
    version: str
    metrics: dict[str, float]
    tags: dict[str, str]


class PromotionOut(_Out):
    """One promotion to champion: who requested the retraining, who approved, the gate."""

    model_config = _example(
        tenant="bank_a",
        model_name="precredit-bank_a",
        version="4",
        run_id="5c1e0f2a9b7d4e3c8a6f1d2b3c4e5f6a",
        requested_by="key:3f1c2d4e-0000-4000-8000-000000000001",
        approved_by="key:3f1c2d4e-0000-4000-8000-000000000002",
        gate_passed=True,
        reason="gate passed; reviewed the model card",
        override_reason=None,
        promoted_at="2026-12-04T10:00:00+00:00",
    )

    tenant: str
    model_name: str
    version: str
    run_id: str
    requested_by: str | None = Field(description="identity that asked for the retraining")
    approved_by: str = Field(description="identity of the approving key, or policy:auto")
    gate_passed: bool
    reason: str
    override_reason: str | None = Field(description="set when a gate-failed version was forced")
    promoted_at: str


class Models(_Out):
    """What serves this bank now, what waits for promotion, and the promotions so far."""

    model_config = _example(
        serving={"name": "precredit-platform", "version": "3", "fingerprint": "9f2c41d0"},
        champion={
            "name": "precredit-platform",
            "version": "3",
            "metrics": {"auc": 0.81, "ks": 0.47, "brier": 0.031},
            "tags": {"gate": "passed"},
        },
        challenger=None,
    )

    serving: ServedModel
    champion: ModelVersion | None
    challenger: ModelVersion | None
    promotions: list[PromotionOut] = Field(
        default_factory=list, description="this bank's and the platform's promotions, newest first"
    )


class Promoted(_Out):
    """The version this worker serves after the promotion."""

    model_config = _example(serving={"name": "precredit-bank_a", "version": "4"})

    serving: ServedVersion
    promotion: PromotionOut | None = None


class Refreshed(_Out):
    """What the refresh picked up."""

    model_config = _example(models_changed=["precredit-bank_a"], snapshot_reloaded=False)

    models_changed: list[str] = Field(description="model names whose served version changed")
    snapshot_reloaded: bool


class Job(_Out):
    """A background job (retraining, simulation) and, once finished, its result."""

    model_config = _example(
        job_id="0f5e0d9a6c1b4e3f8a2d7c6b5a4f3e2d",
        kind="retrain",
        trigger="on_demand",
        status="succeeded",
        requested_by="key:3f1c2d4e-0000-4000-8000-000000000001",
        created_at="2026-01-05T08:00:00+00:00",
        started_at="2026-01-05T08:00:01+00:00",
        finished_at="2026-01-05T08:02:13+00:00",
        params={"as_of": "2026-01-05"},
        result={"promoted": False, "version": "4"},
        error=None,
    )

    job_id: str
    kind: str
    trigger: str
    status: Literal["queued", "running", "succeeded", "failed"]
    requested_by: str | None
    created_at: str | None
    started_at: str | None
    finished_at: str | None
    params: JsonObject
    result: JsonObject | None
    error: str | None


# --- outcomes --------------------------------------------------------------------------------


class OutcomeResult(_Out):
    """What happened to one reported loan."""

    loan_id: str
    result: Literal["created", "updated", "unchanged"]


class OutcomesStored(_Out):
    """Every reported loan, in the order sent."""

    model_config = _example(
        stored=2,
        results=[
            {"loan_id": "L-2025-0001", "result": "created"},
            {"loan_id": "L-2025-0002", "result": "unchanged"},
        ],
    )

    stored: int
    results: list[OutcomeResult]


class LinkedPerformance(_Out):
    """Matured loans linked to a decision, offer or financing request, by what decided them."""

    model_config = _example(
        as_of="2026-12-31",
        horizon_months=12,
        rows=[
            {"source": "decision", "model_version": "3", "product": "sme_credit",
             "policy_version": "sme_credit@2", "decision": "approve", "loans": 120, "bads": 3,
             "bad_rate": 0.025, "mean_pd": 0.019}
        ],
    )  # fmt: skip

    as_of: str
    horizon_months: int
    rows: list[LinkedRow]


# --- banks' product policies -----------------------------------------------------------------


POLICY_EXAMPLE: dict[str, JsonValue] = {
    "product": "sme_credit",
    "version": 2,
    "policy_version": "sme_credit@2",
    "fingerprint": "5b2e" * 16,
    "created_by": "key:0f8e9b6c-2a7d-4e51-b3c9-a1d2e4f60718",
    "created_at": "2026-12-04T10:00:00+00:00",
    "policy": {"bank": "bank_a", "product": "sme_credit", "version": "sme_credit@2",
               "min_limit_cny": 20000.0, "rate_band": {"G01": 0.035, "G02": 0.04}},
}  # fmt: skip


class PolicyOut(_Out):
    """A product policy in force: its service version, fingerprint and content."""

    model_config = _example(**POLICY_EXAMPLE)

    product: str
    version: int = Field(description="1, 2, ...: a new version per change")
    policy_version: str = Field(description="as answers carry it: <product>@<version>")
    fingerprint: str = Field(description="SHA-256 of the canonical policy")
    created_by: str = Field(description="the API key (or CLI) that uploaded it")
    created_at: str
    policy: dict[str, JsonValue]


class PolicySet(PolicyOut):
    """The answer to an upload: `created` is false when the policy was unchanged."""

    model_config = _example(**POLICY_EXAMPLE, created=True)

    created: bool


class Policies(_Out):
    """The bank's products, each with its policy in force."""

    model_config = _example(policies=[POLICY_EXAMPLE])

    policies: list[PolicyOut]


# --- public credit evaluation and early warnings ---------------------------------------------


class Evaluation(_Out):
    """The platform's public credit grade of one entity (A/B/C/D), with its top reasons."""

    model_config = _example(
        uscc="91110108MA01A2B32G",
        as_of="2025-12-31",
        status="graded",
        score=82.5,
        grade="A",
        grade_zh="守信",
        grade_en="trustworthy",
        points_grade="A",
        cap=None,
        dimensions={"tax": 24.0, "judicial": 20.0},
        reasons=[{"id": "tax_arrears", "value": 0, "points": 5.0}],
        registry_fingerprint="5d1e9a",
        scale_version="2025.1",
        scale_fingerprint="a0c3f1",
    )

    uscc: str
    as_of: str
    status: str
    score: float
    grade: str
    grade_zh: str
    grade_en: str
    points_grade: str
    cap: str | None
    dimensions: dict[str, float]
    reasons: list[JsonObject]
    registry_fingerprint: str
    scale_version: str
    scale_fingerprint: str


class EarlyWarning(_Out):
    """One early warning: the rule, its parameters and the evidence records with their dates."""

    uscc: str
    as_of: str
    rule: str
    rule_zh: str
    rule_en: str
    severity: str
    domain: str | None
    window_months: int
    threshold: int
    evidence_count: int
    first_evidence_date: str
    last_evidence_date: str
    evidence: list[JsonObject]


class Warnings(_Out):
    """Warnings on the bank's watched entities, as of the snapshot date in service."""

    model_config = _example(
        as_of="2025-12-31",
        warnings=[
            {
                "uscc": "91110108MA01A2B32G",
                "as_of": "2025-12-31",
                "rule": "court_enforcement",
                "rule_zh": "新增被执行",
                "rule_en": "new court enforcement",
                "severity": "high",
                "domain": "judicial",
                "window_months": 3,
                "threshold": 1,
                "evidence_count": 1,
                "first_evidence_date": "2025-11-20",
                "last_evidence_date": "2025-11-20",
                "evidence": [{"table": "court_enforcements", "date": "2025-11-20"}],
            }
        ],
    )

    as_of: str
    warnings: list[EarlyWarning]


class Watched(_Out):
    """How many codes were new, and how many the bank watches now."""

    model_config = _example(added=2, watched=17)

    added: int
    watched: int


class Watchlist(_Out):
    """The bank's watched codes, sorted."""

    model_config = _example(codes=["91110108MA01A2B32G"])

    codes: list[str]


class Unwatched(_Out):
    """The code no longer watched."""

    model_config = _example(removed="91110108MA01A2B32G")

    removed: str


# --- financing platform ----------------------------------------------------------------------


class BankAnswer(_Out):
    """One bank's answer: its pre-approval (status 200) or its error body."""

    bank: str
    status: int
    decision_id: str | None
    body: JsonObject = Field(description="the pre-approval as /v1/preapprovals answers it, or "
                             "the error body")  # fmt: skip


class FinancingRequestOut(_Out):
    """A financing request as the platform sent it."""

    request_id: str
    uscc: str
    amount_cny: float
    term_months: int
    purpose: str
    created_at: str


class FinancingRequestAnswers(FinancingRequestOut):
    """A request with every opted-in bank's answer (for the platform that sent it)."""

    model_config = _example(
        request_id="5b0c9e7f2a1d4c3b8e6f0a9d7c5b3a1e",
        uscc="91110108MA01A2B32G",
        amount_cny=500000.0,
        term_months=12,
        purpose="working capital",
        created_at="2026-01-05T08:00:00+00:00",
        answers=[
            {
                "bank": "bank_a",
                "status": 200,
                "decision_id": "d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5",
                "body": {"decision": "approve", "limit_cny": 400000.0},
            }
        ],
    )

    answers: list[BankAnswer]


class RoutedRequest(FinancingRequestOut):
    """A request routed to this bank, with only this bank's own answer."""

    answer: BankAnswer


class RoutedRequests(_Out):
    """The newest requests routed to this bank (at most 100)."""

    model_config = _example(requests=[])

    requests: list[RoutedRequest]


# --- decisions -------------------------------------------------------------------------------


def _answer(recorded: dict[str, JsonValue]) -> dict[str, JsonValue]:
    """The stored answer of a recorded example: without its decision id."""
    return {key: value for key, value in recorded.items() if key != "decision_id"}


class AnsweredDecision(Decision):
    """A decision as it was answered and stored (the hash is recorded, never answered)."""

    model_config = ConfigDict(
        frozen=True, extra="ignore", json_schema_extra={"examples": [_answer(EXAMPLE)]}
    )

    input_hash: str | None = Field(default=None, exclude=True)  # type: ignore[assignment]  # not stored in the answer
    # Answered since this release only: a decision stored before has none, and is given back
    # as it was stored, without them (MISSING: absent, not null).
    decline_reasons: list[Wording] | MISSING = MISSING  # type: ignore[assignment]
    limit_explained: Wording | MISSING = MISSING  # type: ignore[assignment]
    policy_fingerprint: str | MISSING = MISSING  # type: ignore[assignment]
    indicative_rate: float | MISSING | None = MISSING  # type: ignore[assignment]
    data_scope: list[str] | MISSING = MISSING  # type: ignore[assignment]


class StoredDecision(AnsweredDecision):
    """`GET /v1/decisions/{id}`: the stored answer exactly as given, with its id and time."""

    model_config = ConfigDict(
        frozen=True,
        extra="ignore",
        json_schema_extra={"examples": [{**EXAMPLE, "created_at": "2026-01-05T09:30:00+00:00"}]},
    )

    decision_id: str
    created_at: str = Field(description="when the audit recorded it (ISO 8601, UTC)")


class Replay(_Out):
    """`POST /v1/decisions/{id}/replay`: the stored answer and the recomputed one."""

    model_config = _example(
        decision_id=str(EXAMPLE["decision_id"]),
        identical=True,
        fields_added=[],
        fields_changed=[],
        original=_answer(EXAMPLE),
        replayed=_answer(EXAMPLE),
    )

    decision_id: str
    identical: bool = Field(
        description="the recomputed answer equals the stored one byte for byte, on the fields "
        "the stored answer has"
    )
    fields_added: list[str] = Field(
        description="fields the service answers with now that it did not when this decision was "
        "made (e.g. data_scope): shown in `replayed`, not compared"
    )
    fields_changed: list[str] = Field(
        description="fields of the stored answer whose recomputed value differs (empty when "
        "identical), e.g. reasons when their wording changed since"
    )
    original: AnsweredDecision
    replayed: AnsweredDecision


class BatchItem(_Out):
    """One item of a batch: its answer (200) or its own error (4xx)."""

    index: int = Field(ge=0, description="position in the request's items")
    status: int = Field(examples=[200, 404, 422])
    result: RecordedDecision | None = None
    error: ErrorDetail | None = None


class BatchAnswer(_Out):
    """`POST /v1/preapprovals/batch`: every item answered on its own, in request order."""

    model_config = _example(
        results=[
            {"index": 0, "status": 200, "result": EXAMPLE},
            {
                "index": 1,
                "status": 422,
                "error": {
                    "code": "invalid_uscc",
                    "message": "the credit code's check digit is wrong",
                },
            },
        ]
    )

    results: list[BatchItem]


# --- webhooks --------------------------------------------------------------------------------


_ENDPOINT: dict[str, JsonValue] = {
    "endpoint_id": "3f1c9a2e-4b7d-4e8a-9c1f-2a6b5d7e8f90",
    "url": "https://hooks.bank-a.example/precredit",
    "events": ["offer.created", "warning.created"],
    "created_at": "2026-12-04T09:30:00+00:00",
    "disabled_at": None,
}


class WebhookEndpointOut(_Out):
    """A registered endpoint (its secret is never shown again)."""

    model_config = _example(**_ENDPOINT)

    endpoint_id: str
    url: str
    events: list[str]
    created_at: str
    disabled_at: str | None


class WebhookCreated(WebhookEndpointOut):
    """A new endpoint and its signing secret: shown this once, keep it safe."""

    model_config = _example(**_ENDPOINT, secret="whsec_" + "x" * 43)

    secret: str


class WebhookEndpoints(_Out):
    """The bank's endpoints, oldest first, disabled ones included."""

    model_config = _example(endpoints=[_ENDPOINT])

    endpoints: list[WebhookEndpointOut]


# --- improvement advice ----------------------------------------------------------------------


class AdviceOutcome(_Out):
    """What the bank's model and policy answer: decision, grade, PD, limit."""

    decision: Literal["approve", "refer", "decline"]
    grade: str
    pd: float
    limit_cny: float


class AdviceRecord(_Out):
    """The record an action acts on (`record_id` null: new records, e.g. returns to file)."""

    table: str
    record_id: str | None


class AdviceAction(_Out):
    """One lawful action, its legal basis, from when, and its effect."""

    action_id: str
    kind: Literal["repair_penalty", "leave_abnormal_list", "clear_si_arrears", "file_tax_returns"]
    record: AdviceRecord
    periods: list[str] | None = Field(
        default=None,
        exclude_if=lambda periods: periods is None,
        description="file_tax_returns: the last day of each quarter to file",
    )
    text_zh: str
    text_en: str
    legal_basis: str
    available_from: str
    after: AdviceOutcome
    effect_zh: str
    effect_en: str


class AdviceCombined(_Out):
    """Every action together."""

    action_ids: list[str]
    available_from: str
    after: AdviceOutcome
    effect_zh: str
    effect_en: str


ADVICE_OUTCOME: JsonObject = {"decision": "decline", "grade": "G07", "pd": 0.045, "limit_cny": 0.0}


class Advice(_Out):
    """The lawful steps open to an entity and, for each, the bank's recomputed answer."""

    model_config = _example(
        uscc="91441500MA4UK8XQ3C",
        as_of="2025-12-31",
        model={"name": "precredit-platform", "version": "3"},
        policy_version="2025.1",
        current=ADVICE_OUTCOME,
        actions=[
            {
                "action_id": "repair_penalty:PEN-2024-000012",
                "kind": "repair_penalty",
                "record": {"table": "penalties", "record_id": "PEN-2024-000012"},
                "text_zh": "申请信用修复：行政处罚 粤汕市监罚〔2024〕12号",
                "text_en": "apply for credit repair of penalty 粤汕市监罚〔2024〕12号",
                "legal_basis": "信用修复管理办法 (国家发展改革委令第36号, 2026-04-01)",
                "available_from": "2025-12-31",
                "after": {
                    "decision": "approve",
                    "grade": "G05",
                    "pd": 0.021,
                    "limit_cny": 300000.0,
                },
                "effect_zh": "等级 G07 → G05，额度 0 → 300,000 元",
                "effect_en": "grade G07 → G05, limit CNY 0 → 300,000",
            }
        ],
        combined=None,
    )

    uscc: str
    as_of: str = Field(description="the snapshot date every effect is computed on")
    model: JsonObject
    policy_version: str
    current: AdviceOutcome
    actions: list[AdviceAction]
    combined: AdviceCombined | None


# --- consents --------------------------------------------------------------------------------

CONSENT_EXAMPLE: dict[str, JsonValue] = {
    "id": "3b7a1c52-9e0d-4f6a-8c21-5d4e7f9a0b13",
    "bank": "bank_a",
    "uscc": "91441500MA4UK8XQ3C",
    "scope": ["public_records", "social_insurance", "tax", "utilities"],
    "purpose": "preapproval",
    "starts_on": "2026-01-01",
    "expires_on": "2027-12-31",
    "evidence_sha256": "5b2e" * 16,
    "recorded_by": "key:0f8e9b6c-2a7d-4e51-b3c9-a1d2e4f60718",
    "recorded_at": "2026-01-02T08:30:00.000000Z",
    "revoked_at": None,
    "revoked_by": None,
    "status": "valid",
}


class ConsentOut(_Out):
    """An enterprise's consent as recorded; a revocation is a later fact beside it."""

    model_config = _example(**CONSENT_EXAMPLE)

    id: str
    bank: str
    uscc: str
    scope: list[str]
    purpose: str
    starts_on: str
    expires_on: str
    evidence_sha256: str
    recorded_by: str = Field(description="the key that recorded it (`key:<key id>`) or `cli`")
    recorded_at: str
    revoked_at: str | None
    revoked_by: str | None
    status: Literal["valid", "not_started", "expired", "revoked"] = Field(
        description="today (China Standard Time): whether it lets the bank score the entity"
    )


class Consents(_Out):
    """A bank's consents (for one credit code when asked), newest first."""

    model_config = _example(consents=[CONSENT_EXAMPLE])

    consents: list[ConsentOut]


# --- validation pack -------------------------------------------------------------------------

_INTERVAL: dict[str, JsonValue] = {"low": 0.61, "high": 0.71}
VALIDATION_EXAMPLE: dict[str, JsonValue] = {
    "generated_at": "2026-12-04T09:30:00+00:00",
    "model": {
        "name": "precredit-bank_a",
        "version": "3",
        "run_id": "8f14e45fceea167a5a36dedd4bea2543",
        "model_fingerprint": "9c1185a5c5e9fc54612808977ee8f548b2258d31" + "0" * 24,
        "registry_fingerprint": "5d1e9a" + "0" * 58,
        "trained_through": "2024-12-31",
        "development_auc": 0.68,
    },
    "scope": {
        "tenant": "bank_a",
        "as_of": "2025-12-31",
        "default_definition": "default: 90+ days past due or written off within 12 months",
        "horizon_months": 12,
        "observation_first": "2022-01-03",
        "observation_last": "2024-06-28",
        "loans": 600,
        "defaults": 31,
        "vintages": [
            {
                "vintage": "2022Q1",
                "loans": 60,
                "defaults": 3,
                "default_rate": 0.05,
                "mean_pd": 0.047,
                "auc": None,
                "in_training_period": True,
            }
        ],
        "grade_vintage": [
            {"vintage": "2022Q1", "grade": "G05", "loans": 20, "bads": 1, "bad_rate": 0.05}
        ],
        "missing_rates": {"tax_paid_cny_12m": 0.02},
        "data_sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    },
    "discrimination": {
        "overall": {
            "segment": None,
            "value": None,
            "n": 600,
            "defaults": 31,
            "auc": 0.66,
            "auc_ci": _INTERVAL,
            "gini": 0.32,
            "gini_ci": {"low": 0.22, "high": 0.42},
            "ks": 0.27,
            "ks_ci": {"low": 0.18, "high": 0.38},
            "note": "",
        },
        "segments": [],
        "versus_development": {
            "development": 0.68,
            "current": 0.66,
            "difference": -0.02,
            "z": -0.8,
            "p_value": 0.21,
            "light": "green",
        },
        "method": "AUC and Gini: DeLong; KS: stratified percentile bootstrap, 200 rounds, seed 17",
    },
    "calibration": {
        "grades": [
            {
                "grade": "G05",
                "loans": 200,
                "defaults": 9,
                "observed_rate": 0.045,
                "mean_pd": 0.02,
                "binomial_p": 0.0202,
                "binomial_light": "yellow",
                "jeffreys_p": 0.0124,
                "jeffreys_interval": {"low": 0.022, "high": 0.08},
                "jeffreys_light": "yellow",
            }
        ],
        "hosmer_lemeshow": {"statistic": 6.4, "df": 1, "p_value": 0.0114},
        "thresholds": {"yellow_p": 0.05, "red_p": 0.01, "confidence": 0.95},
    },
    "stability": {
        "reference": "frozen at training",
        "score": {"name": "score", "psi": 0.04, "level": "ok"},
        "features": [{"name": "tax_paid_cny_12m", "psi": 0.12, "level": "warn"}],
        "migration": {
            "start": "2024-12-31",
            "end": "2025-12-31",
            "labels": ["G01", "G02"],
            "counts": [[10, 2], [1, 7]],
            "row_shares": [[0.833, 0.167], [0.125, 0.875]],
            "entities": 20,
            "stayed": 0.85,
            "only_start": 0,
            "only_end": 0,
        },
        "concentration": {
            "shares": {"G01": 0.6, "G02": 0.4},
            "hhi": 0.52,
            "hhi_normalised": 0.04,
        },
    },
    "overrides": {
        "linked_loans": 120,
        "overridden": 80,
        "override_rate": 0.667,
        "directions": [
            {
                "direction": "up",
                "loans": 40,
                "share": 0.333,
                "matured": 40,
                "defaults": 3,
                "default_rate": 0.075,
            }
        ],
        "tolerance": 0.01,
    },
    "soundness": [
        {
            "feature": "court_in_force",
            "registry": 1,
            "model": 1,
            "agrees": True,
            "rows": 600,
            "violations": 0,
        }
    ],
    "not_covered": ["reason texts: the direction of each top reason against the registry"],
}


class ValidationReport(ValidationPack):
    """The newest validation pack of a model version on this bank's data (docs/validation.md)."""

    model_config = ConfigDict(frozen=True, json_schema_extra={"examples": [VALIDATION_EXAMPLE]})


class PlatformSection(_Out):
    """One section of the operator's console: its figures, as the console's page shows them."""

    model_config = _example(
        section="kpis",
        figures={
            "months": [
                {
                    "month": "2026-11",
                    "preapproved_entities": 812,
                    "loans_granted": 37,
                    "loans_reporting_first_loan": 30,
                    "first_loan_share": 0.4,
                }
            ],
        },
    )

    section: str
    figures: dict[str, JsonValue] = Field(
        description="The section's figures (docs/console.md: quality, codes, grades, warnings, "
        "disputes, kpis, monitoring)"
    )


# --- banks' own-table models ----------------------------------------------------------------


class TableReason(_Out):
    """A column that raises the PD: its value as sent and its share of the log-odds."""

    column: str
    value: float | str | None
    contribution: float
    text_zh: str
    text_en: str


class TableAnswer(_Out):
    """One row's answer; `base_log_odds` + the columns' shares = `log_odds` (before calibration)."""

    row: int
    pd: float
    grade: str
    decision: Literal["approve", "refer", "decline"]
    log_odds: float
    base_log_odds: float
    reasons: list[TableReason]
    uscc: str | None = None  # the entity whose platform features the row read (joined models)
    consent_id: str | None = None  # the consent that allowed reading them (None: not required)


class TableModelRef(_Out):
    """The registered version that answered."""

    name: str
    version: str
    fingerprint: str


class TablePolicyRef(_Out):
    """The bank's product policy whose PD cut-offs decided."""

    product: str
    version: str
    fingerprint: str
    approve_max_pd: float
    refer_max_pd: float


class TableScores(_Out):
    """A table model's answers, as stored (`GET /v1/table-models/scores/{score_id}`)."""

    model_config = _example(
        score_id="4f0c9a0e-8a4e-4d55-9a36-0b7d1c2e3f4a",
        scored_at="2026-12-04T10:00:00+00:00",
        scored_by="key:7",
        model={"name": "precredit-bank_a-table-loans", "version": "2", "fingerprint": "ab12"},
        policy={
            "product": "sme_credit",
            "version": "2026-1",
            "fingerprint": "cd34",
            "approve_max_pd": 0.03,
            "refer_max_pd": 0.08,
        },
        input_sha256="9f2b",
        limit_note="a table model scores the bank's own columns; ...",
        answers=[
            {
                "row": 0,
                "pd": 0.041,
                "grade": "G07",
                "decision": "refer",
                "log_odds": -3.15,
                "base_log_odds": -2.9,
                "reasons": [
                    {
                        "column": "Seniority",
                        "value": 1,
                        "contribution": 0.42,
                        "text_zh": "Seniority（1）推高了违约概率",
                        "text_en": "Seniority = 1 raises the estimated probability of default",
                    }
                ],
            }
        ],
    )

    score_id: str
    scored_at: str
    scored_by: str
    model: TableModelRef
    policy: TablePolicyRef
    input_sha256: str
    snapshot_as_of: str | None = None  # the platform snapshot a joined model's features came from
    limit_note: str
    answers: list[TableAnswer]
