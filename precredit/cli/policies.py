"""`precredit policies ...`: a bank's own product policies (the YAML/TOML policy format)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from catalog.errors import NotFound

policies_app = typer.Typer(help="Banks' product policies, versioned.", no_args_is_help=True)
Tenant = Annotated[str, typer.Option("--tenant", help="The bank's tenant id")]


@policies_app.command("set")
def set_policy(
    tenant: Tenant,
    file: Annotated[Path, typer.Argument(help="Policy file (.yaml, .yml or .toml)")],
    product: Annotated[
        str | None, typer.Option(help="Product id (default: the file's `product`)")
    ] = None,
) -> None:
    """Store the file as the product's next policy version (unchanged: no new version)."""
    from models.policy import load_policy
    from precredit.cli.service import session
    from serving.db import policies, repo

    policy = load_policy(file)
    with session() as db:
        if repo.get_tenant(db, tenant) is None:
            raise NotFound(f"no tenant {tenant!r}")
        stored, created = policies.set_policy(db, tenant, product or policy.product, policy, "cli")
        db.commit()
    state = "stored as" if created else "unchanged, still"
    typer.echo(
        f"bank {tenant} product {stored.product}: {state} version {stored.version} "
        f"(fingerprint {stored.fingerprint})"
    )


@policies_app.command("list")
def list_policies(tenant: Tenant) -> None:
    """The bank's products and the policy version in force for each, as JSON lines."""
    from precredit.cli.service import session
    from serving.db import policies

    with session() as db:
        for stored in policies.latest(db, tenant).values():
            line = {"product": stored.product, "version": stored.version,
                    "fingerprint": stored.fingerprint, "created_at": stored.created_at}  # fmt: skip
            typer.echo(json.dumps(line))
