"""Batch offers and the signed webhook outbox: offers, endpoints, outbox events, deliveries.

`offers.active_key` is `<tenant>:<product>:<uscc>` while an offer is active and NULL once it
ends; its unique constraint (NULLs never collide) keeps one active offer per tenant, product
and entity, as `jobs.active_key` keeps one running job. Outbox events are written in the
transaction that changes the offer; `webhook_deliveries` logs every attempt.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.schema import SchemaItem

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the four tables."""
    _create_offers()
    _create_webhook_endpoints()
    _create_outbox_events()
    _create_webhook_deliveries()


def downgrade() -> None:
    """Drop the four tables."""
    for table in ("webhook_deliveries", "outbox_events", "webhook_endpoints", "offers"):
        op.drop_table(table)


def _at(name: str, nullable: bool = False) -> sa.Column[dt.datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _id(table: str) -> list[SchemaItem]:
    return [
        sa.Column("id", sa.String(36), nullable=False),
        sa.PrimaryKeyConstraint("id", name=f"pk_{table}"),
        sa.Column("tenant_id", sa.String(32), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=f"fk_{table}_tenant_id_tenants"
        ),
    ]


def _create_offers() -> None:
    op.create_table(
        "offers",
        *_id("offers"),
        sa.Column("uscc", sa.String(18), nullable=False),
        sa.Column("product", sa.String(64), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("limit_cny", sa.Double(), nullable=False),
        sa.Column("pd", sa.Double(), nullable=False),
        sa.Column("grade", sa.String(16), nullable=False),
        sa.Column("binding", sa.String(64), nullable=False),
        sa.Column("reasons_json", sa.Text(), nullable=False),
        sa.Column("model_name", sa.String(128), nullable=False),
        sa.Column("model_version", sa.String(32), nullable=False),
        sa.Column("snapshot_as_of", sa.Date(), nullable=False),
        sa.Column("input_hash", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("active_key", sa.String(120), nullable=True),
        sa.Column("replaces_id", sa.String(36), nullable=True),
        _at("created_at"),
        _at("valid_until"),
        _at("revoked_at", nullable=True),
        sa.Column("revoke_reason", sa.String(64), nullable=True),
        sa.UniqueConstraint("active_key", name="uq_offers_active_key"),
        sa.CheckConstraint(
            "status IN ('active', 'revoked', 'expired', 'superseded')", name="ck_offers_status"
        ),
        sa.CheckConstraint("decision IN ('approve', 'refer')", name="ck_offers_decision"),
    )
    op.create_index("ix_offers_tenant_id_uscc", "offers", ["tenant_id", "uscc"])
    op.create_index(
        "ix_offers_tenant_id_status_valid_until", "offers", ["tenant_id", "status", "valid_until"]
    )


def _create_webhook_endpoints() -> None:
    op.create_table(
        "webhook_endpoints",
        *_id("webhook_endpoints"),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("secret", sa.String(100), nullable=False),
        sa.Column("events", sa.String(200), nullable=False),
        _at("created_at"),
        _at("disabled_at", nullable=True),
    )
    op.create_index("ix_webhook_endpoints_tenant_id", "webhook_endpoints", ["tenant_id"])


def _create_outbox_events() -> None:
    op.create_table(
        "outbox_events",
        *_id("outbox_events"),
        sa.Column("event_type", sa.String(32), nullable=False),
        sa.Column("payload_json", sa.Text(), nullable=False),
        _at("created_at"),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _at("next_attempt_at"),
        _at("delivered_at", nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'delivered', 'dead')", name="ck_outbox_events_status"
        ),
    )
    op.create_index(
        "ix_outbox_events_status_next_attempt_at", "outbox_events", ["status", "next_attempt_at"]
    )
    op.create_index(
        "ix_outbox_events_tenant_id_created_at", "outbox_events", ["tenant_id", "created_at"]
    )


def _create_webhook_deliveries() -> None:
    op.create_table(
        "webhook_deliveries",
        *_id("webhook_deliveries"),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("endpoint_id", sa.String(36), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(300), nullable=True),
        sa.Column("duration_ms", sa.Double(), nullable=False),
        _at("at"),
        sa.ForeignKeyConstraint(
            ["event_id"], ["outbox_events.id"], name="fk_webhook_deliveries_event_id_outbox_events"
        ),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["webhook_endpoints.id"],
            name="fk_webhook_deliveries_endpoint_id_webhook_endpoints",
        ),
    )
    op.create_index(
        "ix_webhook_deliveries_event_id_endpoint_id",
        "webhook_deliveries",
        ["event_id", "endpoint_id"],
    )
