"""The service database's tables; `migrations/versions` creates them, these map them.

Every table a bank can reach carries `tenant_id`. Times are timezone-aware UTC on both
backends (`UTCDateTime`); ids are UUID4 strings.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, ClassVar, Literal

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    Dialect,
    Double,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

PromotionPolicy = Literal["auto", "manual"]

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    """The current time, timezone-aware UTC."""
    return dt.datetime.now(dt.UTC)


def new_id() -> str:
    """A fresh UUID4 string id."""
    return str(uuid.uuid4())


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Aware datetimes stored as UTC; SQLite (which keeps no zone) reads back aware too."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: the service database stores aware UTC times")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        moment: dt.datetime = value
        return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


class Base(DeclarativeBase):
    """Declarative base with constraint names the migrations spell out."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dt.datetime: UTCDateTime}


class Tenant(Base):
    """A bank (or the platform itself) using the service."""

    __tablename__ = "tenants"
    __table_args__ = (
        CheckConstraint("promotion_policy IN ('auto', 'manual')", name="promotion_policy"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    pooling_opt_in: Mapped[bool] = mapped_column(default=False)
    promotion_policy: Mapped[PromotionPolicy] = mapped_column(String(16), default="manual")
    platform: Mapped[bool] = mapped_column(default=False)
    financing_opt_in: Mapped[bool] = mapped_column(default=False, server_default=false())
    require_consent: Mapped[bool] = mapped_column(default=False, server_default=false())


class ApiKey(Base):
    """An API key, stored only as its SHA-256; `prefix` finds the candidates to compare."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    prefix: Mapped[str] = mapped_column(String(12), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[str] = mapped_column(String(64))  # comma-separated, sorted
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[dt.datetime | None]
    name: Mapped[str | None] = mapped_column(String(120))  # operators, the financing platform


class Promotion(Base):
    """One promotion of a model version to champion (append-only; `training.promotion`).

    `tenant_id` owns the model (`platform` for the platform's); no foreign key, so promotions
    of the platform model are recorded before the platform's tenant row exists.
    """

    __tablename__ = "promotions"
    __table_args__ = (Index(None, "tenant_id", "promoted_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(String(32))
    model_name: Mapped[str] = mapped_column(String(64))
    model_version: Mapped[str] = mapped_column(String(16))
    run_id: Mapped[str] = mapped_column(String(64))
    requested_by: Mapped[str | None] = mapped_column(String(200))
    approved_by: Mapped[str] = mapped_column(String(200))
    gate_passed: Mapped[bool]
    reason: Mapped[str] = mapped_column(Text)
    override_reason: Mapped[str | None] = mapped_column(Text)
    promoted_at: Mapped[dt.datetime]


class Decision(Base):
    """One pre-approval answer, append-only (database triggers refuse UPDATE, DELETE, REPLACE).

    `seq`, `prev_hash` and `row_hash` chain the tenant's decisions (`audit_chain`).
    """

    __tablename__ = "decisions"
    __table_args__ = (
        CheckConstraint("decision IN ('approve', 'refer', 'decline')", name="decision"),
        UniqueConstraint("tenant_id", "seq"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    uscc: Mapped[str] = mapped_column(String(18))
    product: Mapped[str] = mapped_column(String(64))
    requested_amount_cny: Mapped[float | None] = mapped_column(Double)
    decision: Mapped[str] = mapped_column(String(16))
    limit_cny: Mapped[float] = mapped_column(Double)
    pd: Mapped[float] = mapped_column(Double)
    grade: Mapped[str] = mapped_column(String(16))
    binding: Mapped[str] = mapped_column(String(64))
    model_name: Mapped[str] = mapped_column(String(128))
    model_version: Mapped[str] = mapped_column(String(32))
    model_sha256: Mapped[str] = mapped_column(String(64))
    policy_version: Mapped[str] = mapped_column(String(64))
    policy_fingerprint: Mapped[str] = mapped_column(String(64))
    registry_fingerprint: Mapped[str] = mapped_column(String(64))
    snapshot_as_of: Mapped[dt.date]
    input_hash: Mapped[str] = mapped_column(String(64))
    features_json: Mapped[str] = mapped_column(Text)
    reasons_json: Mapped[str] = mapped_column(Text)
    response_json: Mapped[str] = mapped_column(Text)
    consent_id: Mapped[str | None] = mapped_column(String(36))  # the consent that allowed it
    consent_purpose: Mapped[str | None] = mapped_column(String(16))
    seq: Mapped[int]  # 1, 2, 3... per tenant, without gaps
    prev_hash: Mapped[str] = mapped_column(String(64))
    row_hash: Mapped[str] = mapped_column(String(64))


class Consent(Base):
    """An enterprise's authorisation for a bank to use its data; append-only (triggers)."""

    __tablename__ = "consents"
    __table_args__ = (
        CheckConstraint("purpose IN ('preapproval', 'monitoring')", name="purpose"),
        CheckConstraint("expires_on > starts_on", name="validity"),
        Index(None, "tenant_id", "uscc"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    uscc: Mapped[str] = mapped_column(String(18))
    scope: Mapped[str] = mapped_column(String(100))  # comma-separated, sorted
    purpose: Mapped[str] = mapped_column(String(16))
    starts_on: Mapped[dt.date]
    expires_on: Mapped[dt.date]
    evidence_sha256: Mapped[str] = mapped_column(String(64))
    recorded_by: Mapped[str] = mapped_column(String(64))  # key:<key id> or cli
    recorded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ConsentRevocation(Base):
    """A consent's revocation: a new fact, never an edit of the consent (append-only)."""

    __tablename__ = "consent_revocations"

    consent_id: Mapped[str] = mapped_column(ForeignKey("consents.id"), primary_key=True)
    revoked_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    revoked_by: Mapped[str] = mapped_column(String(64))


class Outcome(Base):
    """A bank's latest report on one of its loans: one row per (tenant, loan)."""

    __tablename__ = "outcomes"
    __table_args__ = (
        UniqueConstraint("tenant_id", "loan_id"),
        Index(None, "tenant_id", "application_date"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    loan_id: Mapped[str] = mapped_column(String(64))
    uscc: Mapped[str] = mapped_column(String(18))
    application_date: Mapped[dt.date]
    granted_amount_cny: Mapped[float] = mapped_column(Double)
    drawn_amount_cny: Mapped[float] = mapped_column(Double)
    default_flag: Mapped[bool]
    default_date: Mapped[dt.date | None]
    max_dpd: Mapped[int | None]
    dpd_history_json: Mapped[str | None] = mapped_column(Text)
    observation_date: Mapped[dt.date]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    decision_id: Mapped[str | None] = mapped_column(String(36))
    offer_id: Mapped[str | None] = mapped_column(String(36))
    financing_request_id: Mapped[str | None] = mapped_column(String(36))
    # a randomised "test" approval of a declined applicant (the unbiased sample), 0012
    explore: Mapped[bool] = mapped_column(default=False, server_default=false())
    # 首贷 and 担保方式 as the bank reports them (None: not reported), 0014
    first_loan: Mapped[bool | None] = mapped_column(default=None)
    security: Mapped[str | None] = mapped_column(String(16), default=None)


class ProductPolicyVersion(Base):
    """One version of a bank's product policy (`models.policy.ProductPolicy` as canonical JSON)."""

    __tablename__ = "product_policies"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    product: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    policy_json: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class IdempotencyKey(Base):
    """A client's Idempotency-Key, per tenant; `status_code` stays NULL until completed."""

    __tablename__ = "idempotency_keys"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    endpoint: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None]
    response_json: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[dt.datetime | None]


JobStatus = Literal["queued", "running", "succeeded", "failed"]


class Job(Base):
    """A background job (retraining); `active_key` is set only while it is queued or running."""

    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint("status IN ('queued', 'running', 'succeeded', 'failed')", name="status"),
        Index(None, "tenant_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    kind: Mapped[str] = mapped_column(String(32))
    trigger: Mapped[str] = mapped_column(String(32))
    status: Mapped[JobStatus] = mapped_column(String(16), default="queued")
    requested_by: Mapped[str] = mapped_column(String(200))
    active_key: Mapped[str | None] = mapped_column(String(80), unique=True)
    params_json: Mapped[str] = mapped_column(Text, default="{}")
    result_json: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]


OfferStatus = Literal["active", "revoked", "expired", "superseded"]
EventStatus = Literal["pending", "delivered", "dead"]


class Offer(Base):
    """A batch pre-approval offer; its terms never change, only its status ends (see offers.md).

    `active_key` is `<tenant>:<product>:<uscc>` while the offer is active and NULL afterwards; a
    unique constraint on it keeps one active offer per tenant, product and entity.
    """

    __tablename__ = "offers"
    __table_args__ = (
        CheckConstraint("status IN ('active', 'revoked', 'expired', 'superseded')", name="status"),
        CheckConstraint("decision IN ('approve', 'refer')", name="decision"),
        Index(None, "tenant_id", "uscc"),
        Index(None, "tenant_id", "status", "valid_until"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    uscc: Mapped[str] = mapped_column(String(18))
    product: Mapped[str] = mapped_column(String(64))
    decision: Mapped[str] = mapped_column(String(16))
    limit_cny: Mapped[float] = mapped_column(Double)
    pd: Mapped[float] = mapped_column(Double)
    grade: Mapped[str] = mapped_column(String(16))
    binding: Mapped[str] = mapped_column(String(64))
    reasons_json: Mapped[str] = mapped_column(Text)
    model_name: Mapped[str] = mapped_column(String(128))
    model_version: Mapped[str] = mapped_column(String(32))
    snapshot_as_of: Mapped[dt.date]
    input_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[OfferStatus] = mapped_column(String(16), default="active")
    active_key: Mapped[str | None] = mapped_column(String(120), unique=True)
    replaces_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    valid_until: Mapped[dt.datetime]
    revoked_at: Mapped[dt.datetime | None]
    revoke_reason: Mapped[str | None] = mapped_column(String(64))
    policy_version: Mapped[str | None] = mapped_column(String(64))
    policy_fingerprint: Mapped[str | None] = mapped_column(String(64))
    consent_id: Mapped[str | None] = mapped_column(String(36))  # the consent that allowed it


class OfferState(Base):
    """A tenant's last complete offers run: its scorer and every entity's input digest (Parquet)."""

    __tablename__ = "offer_states"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    model_name: Mapped[str] = mapped_column(String(128))
    model_version: Mapped[str] = mapped_column(String(32))
    policy_fingerprint: Mapped[str] = mapped_column(String(64))
    entities: Mapped[int]
    state: Mapped[bytes] = mapped_column(LargeBinary)
    written_at: Mapped[dt.datetime]


class WebhookEndpoint(Base):
    """A tenant's URL for offer events; `secret` signs them and is shown only at creation."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(String(500))  # Fernet-sealed (serving.db.secrets)
    events: Mapped[str] = mapped_column(String(200))  # comma-separated, sorted
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    disabled_at: Mapped[dt.datetime | None]


class OutboxEvent(Base):
    """An event owed to a tenant's endpoints, written in the transaction that caused it."""

    __tablename__ = "outbox_events"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'delivered', 'dead')", name="status"),
        Index(None, "status", "next_attempt_at"),
        Index(None, "tenant_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    event_type: Mapped[str] = mapped_column(String(32))
    payload_json: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    status: Mapped[EventStatus] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime]
    delivered_at: Mapped[dt.datetime | None]


class WebhookDelivery(Base):
    """One attempt to post one event to one endpoint (append-only log)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index(None, "event_id", "endpoint_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    event_id: Mapped[str] = mapped_column(ForeignKey("outbox_events.id"))
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("webhook_endpoints.id"))
    attempt: Mapped[int]
    status_code: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(String(300))
    duration_ms: Mapped[float] = mapped_column(Double)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class FinancingRequest(Base):
    """An entity's financing request, sent by the SME financing platform (its tenant)."""

    __tablename__ = "financing_requests"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))  # the platform's tenant
    uscc: Mapped[str] = mapped_column(String(18))
    amount_cny: Mapped[float] = mapped_column(Double)
    term_months: Mapped[int]
    purpose: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class FinancingAnswer(Base):
    """One opted-in bank's answer to a financing request (its own pre-approval)."""

    __tablename__ = "financing_answers"
    __table_args__ = (Index(None, "tenant_id", "created_at"),)

    request_id: Mapped[str] = mapped_column(ForeignKey("financing_requests.id"), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    decision_id: Mapped[str | None] = mapped_column(String(36))
    status: Mapped[int]
    answer_json: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class WatchedEntity(Base):
    """An entity a bank watches (its borrower or an offer's entity): warnings reach it."""

    __tablename__ = "watchlist"
    __table_args__ = (CheckConstraint("source IN ('borrower', 'offer', 'other')", name="source"),)

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    uscc: Mapped[str] = mapped_column(String(18), primary_key=True)
    source: Mapped[str] = mapped_column(String(16), default="borrower")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class WarningNotice(Base):
    """A warning already announced to a bank (each warning reaches a bank once)."""

    __tablename__ = "warning_notices"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    warning_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    uscc: Mapped[str] = mapped_column(String(18))
    event_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


DisputeKind = Literal["dispute", "repair"]
DisputeState = Literal["received", "checking", "corrected", "rejected"]


class Dispute(Base):
    """An objection (异议) to a record, or a credit-repair application, filed for an entity.

    It names a store record (`record_table`, `record_id`) or a reason a decision of the filer
    cited (`decision_id`, `reason_feature`). `due_date` is NULL while the working-day calendar
    does not know the deadline's year. Every state change is also in `dispute_events`.
    """

    __tablename__ = "disputes"
    __table_args__ = (
        CheckConstraint("kind IN ('dispute', 'repair')", name="kind"),
        CheckConstraint("state IN ('received', 'checking', 'corrected', 'rejected')", name="state"),
        Index(None, "tenant_id", "received_at"),
        Index(None, "state", "due_date"),
        Index(None, "uscc"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))  # who filed it
    kind: Mapped[DisputeKind] = mapped_column(String(16))
    uscc: Mapped[str] = mapped_column(String(18))
    record_table: Mapped[str | None] = mapped_column(String(32))
    record_id: Mapped[str | None] = mapped_column(String(64))
    record_version: Mapped[int | None]  # the latest version when filed
    record_visible_on: Mapped[dt.date | None]  # the record's first ingest date
    department: Mapped[str | None] = mapped_column(String(200))  # the record's authority
    decision_id: Mapped[str | None] = mapped_column(String(36))
    reason_feature: Mapped[str | None] = mapped_column(String(64))
    claim: Mapped[str] = mapped_column(Text)
    evidence_sha256: Mapped[str] = mapped_column(String(64))
    state: Mapped[DisputeState] = mapped_column(String(16), default="received")
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    due_date: Mapped[dt.date | None]
    answer: Mapped[str | None] = mapped_column(Text)
    closed_at: Mapped[dt.datetime | None]


class DisputeEvent(Base):
    """One step of a case's audit trail (append-only: triggers refuse UPDATE and DELETE)."""

    __tablename__ = "dispute_events"
    __table_args__ = (Index(None, "dispute_id", "at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    dispute_id: Mapped[str] = mapped_column(ForeignKey("disputes.id"))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(200))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)


class TableScore(Base):
    """One answer of a bank's own-table model, as given (append-only: triggers), 0015."""

    __tablename__ = "table_scores"
    __table_args__ = (Index(None, "tenant_id", "scored_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    model_name: Mapped[str] = mapped_column(String(160))
    model_version: Mapped[str] = mapped_column(String(16))
    model_fingerprint: Mapped[str] = mapped_column(String(64))
    input_sha256: Mapped[str] = mapped_column(String(64))
    rows: Mapped[int]
    answer: Mapped[str] = mapped_column(Text)
    scored_by: Mapped[str] = mapped_column(String(64))  # key:<key id>
    scored_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class CalendarYear(Base):
    """A version of an operator-entered working-day year (append-only: triggers), 0018.

    Only for years the `chinesecalendar` package does not know; the newest version counts.
    """

    __tablename__ = "calendar_years"

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    source: Mapped[str] = mapped_column(String(200))  # the notice, e.g. 国办发明电〔2026〕7号
    recorded_by: Mapped[str] = mapped_column(String(64))  # key:<key id> or cli
    recorded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class CalendarDay(Base):
    """A public holiday or an adjusted working day (调休) of a `CalendarYear` version."""

    __tablename__ = "calendar_days"
    __table_args__ = (
        ForeignKeyConstraint(
            ["year", "version"], ["calendar_years.year", "calendar_years.version"]
        ),
        CheckConstraint("kind IN ('holiday', 'workday')", name="kind"),
    )

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    day: Mapped[dt.date] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    name: Mapped[str | None] = mapped_column(String(40))
