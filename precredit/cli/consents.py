"""`precredit consents ...`: enterprises' consents for a bank to use their data (append-only)."""

from __future__ import annotations

import datetime as dt
import json
from enum import StrEnum
from typing import Annotated

import typer

consents_app = typer.Typer(
    help="Enterprises' consents (授权) for a bank to use their data.", no_args_is_help=True
)
Tenant = Annotated[str, typer.Option("--tenant", help="The bank's tenant id")]


class Purpose(StrEnum):
    """What the bank may use the data for."""

    preapproval = "preapproval"
    monitoring = "monitoring"


def _day(value: str, name: str) -> dt.date:
    from catalog.errors import InvalidInput

    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{name} is a date YYYY-MM-DD") from None


@consents_app.command("add")
def add(
    tenant: Tenant,
    code: Annotated[str, typer.Argument(help="The enterprise's unified social credit code")],
    scope: Annotated[
        str, typer.Option(help="Comma-separated: public_records, tax, social_insurance, utilities")
    ],
    starts_on: Annotated[str, typer.Option(help="First day it is valid (YYYY-MM-DD)")],
    expires_on: Annotated[str, typer.Option(help="Last day it is valid (at most 3 years on)")],
    evidence_sha256: Annotated[
        str, typer.Option(help="SHA-256 of the signed authorisation document (64 hex)")
    ],
    purpose: Annotated[Purpose, typer.Option(help="What the data may be used for")] = (
        Purpose.preapproval
    ),
) -> None:
    """Record a consent for the bank; prints its id alone on the last line."""
    from precredit.cli.service import session
    from serving.db import consents

    fields = consents.ConsentFields(
        code,
        tuple(part.strip() for part in scope.split(",") if part.strip()),
        purpose.value,
        _day(starts_on, "--starts-on"),
        _day(expires_on, "--expires-on"),
        evidence_sha256,
    )
    with session() as db:
        consent = consents.record(db, tenant, fields, "cli")
        db.commit()
        typer.echo(f"bank {tenant}: consent for {consent.uscc} ({consent.scope}) recorded")
        typer.echo(consent.id)


@consents_app.command("list")
def list_consents(
    tenant: Tenant,
    code: Annotated[str | None, typer.Option(help="Only this credit code")] = None,
) -> None:
    """The bank's consents, newest first, as JSON lines (with status today)."""
    from precredit.cli.service import session
    from serving import consents as answers
    from serving.db import consents

    with session() as db:
        for consent in consents.listed(db, tenant, code):
            typer.echo(json.dumps(answers.to_dict(db, consent), ensure_ascii=False))


@consents_app.command("revoke")
def revoke(
    tenant: Tenant,
    consent_id: Annotated[str, typer.Argument(help="The consent's id")],
) -> None:
    """Revoke a consent from now: the next pre-approval no longer counts it."""
    from precredit.cli.service import session
    from serving.db import consents

    with session() as db:
        consents.revoke(db, tenant, consent_id, "cli")
        db.commit()
    typer.echo(f"bank {tenant}: consent {consent_id} revoked")
