"""`precredit audit verify`: check the decisions audit's hash chains, optionally against an anchor."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

audit_app = typer.Typer(help="The decisions audit: verify its hash chains.", no_args_is_help=True)


@audit_app.command("verify")
def verify(
    tenant: Annotated[
        str | None, typer.Option("--tenant", help="Verify this tenant only (default: every one)")
    ] = None,
    anchor: Annotated[
        Path | None,
        typer.Option(
            "--anchor",
            help="Heads kept from the last run: checked when the file exists, then updated "
            "when every chain holds (keep it outside the database)",
        ),
    ] = None,
) -> None:
    """Verify each tenant's audit chain; exit 1 naming the first broken row."""
    # Imports inside: `precredit --help` and other commands do not load the database stack.
    from precredit.settings import get_settings
    from serving.db import audit_verify
    from serving.db.engine import make_engine, session_factory

    anchors = audit_verify.read_anchors(anchor) if anchor is not None else {}
    engine = make_engine(get_settings().service_db)
    try:
        with session_factory(engine)() as session:
            tenants = None if tenant is None else [tenant]
            reports = audit_verify.verify(session, tenants, anchors)
    finally:
        engine.dispose()
    for report in reports:
        if report.broken is not None:
            typer.echo(report.broken.line(), err=True)
            raise typer.Exit(1)
        head = report.head
        typer.echo(f"{report.tenant_id}: {head.seq} decisions, chain intact, head {head.row_hash}")
    if anchor is not None:
        audit_verify.write_anchors(anchor, anchors | {r.tenant_id: r.head for r in reports})
        typer.echo(f"anchor written to {anchor}")
