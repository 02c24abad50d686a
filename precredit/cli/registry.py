"""`precredit models list`: registered versions with alias, AUC, ECE, gate verdict and source."""

from __future__ import annotations

import json
from typing import Annotated

import typer

HEADER = ("model", "version", "alias", "source", "auc", "ece", "gate", "created")


def list_models(
    tenant: Annotated[
        str | None, typer.Option("--tenant", help="Only this tenant's models (a bank or platform)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Registered model versions: alias (champion/challenger), AUC, ECE, gate, source, created."""
    from precredit.settings import get_settings
    from training import tracking
    from training.versions import list_versions

    client = tracking.connect_client(get_settings().mlflow_uri)
    rows = list_versions(client, tenant)
    if as_json:
        typer.echo(json.dumps([row.to_dict() for row in rows], indent=2, ensure_ascii=False))
        return
    if not rows:
        typer.echo("no registered models" + ("" if tenant is None else f" of {tenant}"))
        return
    table = [HEADER] + [
        (
            row.name,
            row.version,
            ",".join(row.aliases) or "-",
            row.source,
            _fixed(row.auc),
            _fixed(row.ece),
            {True: "passed", False: "FAILED", None: "-"}[row.gate_passed],
            row.created[:19],
        )
        for row in rows
    ]
    widths = [max(len(line[i]) for line in table) for i in range(len(HEADER))]
    for line in table:
        typer.echo("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)))


def _fixed(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"
