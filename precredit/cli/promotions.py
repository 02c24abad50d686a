"""`precredit models promote` and `precredit models history`: the one promotion rule, by key.

The approver is the API key given with `--key` (or `$PRECREDIT_API_KEY`): a bank admin's key
for its own model, an operator's key (`precredit operators add`) for the platform's. The rule
itself is `training.promotion.promote`, reached through `serving.retraining.promote` exactly as
the API reaches it.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

KeyOption = Annotated[
    str,
    typer.Option(
        "--key",
        envvar="PRECREDIT_API_KEY",
        help="The approver's API key (admin scope; operators for platform models).",
        show_default=False,
    ),
]
TenantOption = Annotated[str, typer.Option("--tenant", help="Whose model: a bank id or platform")]


def promote(
    tenant: TenantOption,
    version: Annotated[str, typer.Option(help="Registered version to make champion")],
    reason: Annotated[str, typer.Option("--reason", "--why", help="Why it is promoted")],
    key: KeyOption,
    override_gate: Annotated[
        str | None,
        typer.Option(
            "--override-gate",
            help="Promote a gate-failed version anyway; the written reason (>= 20 chars) is kept",
        ),
    ] = None,
    table: Annotated[
        str | None,
        typer.Option(
            "--table",
            help="Promote the bank's model of its own table (precredit-<bank>-table-<slug>)",
        ),
    ] = None,
) -> None:
    """Make a version the champion: gate passed (or overridden), approved by another person."""
    from catalog.errors import NotFound
    from precredit.cli.retrain import _sessions
    from precredit.settings import get_settings
    from serving import retraining
    from serving.db import repo
    from serving.errors import ApiError
    from training.tracking import PUBLIC_OWNER

    sessions = _sessions()
    with sessions() as session:
        principal = repo.authenticate(session, key)
    if principal is None:
        raise ApiError(401, "unauthorized", "--key is not a live API key")
    if "admin" not in principal.scopes:
        raise ApiError(403, "forbidden", "this API key lacks the 'admin' scope")
    platform_model = tenant in ("platform", PUBLIC_OWNER)
    if principal.tenant_id != tenant and not (
        tenant == PUBLIC_OWNER and principal.tenant_id == "platform"
    ):
        if platform_model:
            raise ApiError(403, "forbidden", "only a platform operator promotes platform models")
        raise NotFound(f"this key cannot see models of {tenant!r}")
    request = retraining.PromoteRequest(principal, version, reason, override_gate, tenant, table)
    record = retraining.promote(get_settings(), sessions, request)
    forced = "" if record.gate_passed else " (gate FAILED; override recorded)"
    typer.echo(f"{record.model_name} version {record.version} is now @champion{forced}")
    typer.echo(f"approved by {record.approved_by}; requested by {record.requested_by or '-'}")


def history(
    tenant: TenantOption,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Every promotion of a tenant's models: who requested, who approved, gate, override."""
    from precredit.cli.retrain import _sessions
    from serving.db import promotions

    with _sessions()() as session:
        rows = [promotions.to_dict(p) for p in promotions.history(session, [tenant])]
    if as_json:
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not rows:
        typer.echo(f"no promotions of {tenant}'s models recorded")
    for row in rows:
        gate = "passed" if row["gate_passed"] else f"FAILED, override: {row['override_reason']}"
        typer.echo(
            f"{row['promoted_at']}  {row['model_name']} v{row['version']}  "
            f"requested by {row['requested_by'] or '-'}, approved by {row['approved_by']}  "
            f"gate {gate}  ({row['reason']})"
        )
