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
    Index,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
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


class Decision(Base):
    """One pre-approval answer, append-only (database triggers refuse UPDATE and DELETE)."""

    __tablename__ = "decisions"
    __table_args__ = (
        CheckConstraint("decision IN ('approve', 'refer', 'decline')", name="decision"),
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
