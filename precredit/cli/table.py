"""`precredit train --table`: a bank's own table, checked, assessed and, with --tenant, registered.

Column warnings go to stderr as `precredit: warning [code]: message` and into the metrics JSON.
With `--tenant` the bank must exist in the service database (the platform is not a bank); it is
checked before any training, so a refused run writes nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from training.table import TableSpec
    from training.tuning import Budget


def check_bank(tenant: str) -> None:
    """The tenant is a bank of the service database; else NotFound or InvalidInput."""
    from catalog.errors import InvalidInput, NotFound
    from precredit.cli.retrain import _sessions
    from serving.db.tenants import PLATFORM_ID, get_tenant

    if tenant == PLATFORM_ID:
        raise InvalidInput("a table model belongs to a bank: give --tenant a bank id")
    with _sessions()() as session:
        if get_tenant(session, tenant) is None:
            raise NotFound(f"no bank {tenant!r} in the service database (precredit banks add)")


def train_table(spec: TableSpec, tenant: str | None, seed: int, budget: Budget) -> dict[str, Any]:
    """The metrics JSON; with a tenant, the model is also registered as @challenger."""
    from training.table import assess, read_prepared

    if tenant is not None:
        check_bank(tenant)
    frame, prepared = read_prepared(spec)
    for warning in prepared.warnings:
        typer.echo(f"precredit: warning [{warning.code}]: {warning.message}", err=True)
    found = assess(prepared, seed, budget)
    roles = spec.roles
    about = {"table": spec.path.name, "target": roles.target, "positive": roles.positive}
    metrics = found.metrics | about
    if tenant is None:
        return metrics
    from training.table import Assessment
    from training.table_registry import TableTraining

    training = TableTraining(
        frame, prepared, Assessment(metrics, found.model, found.test_rows), spec, seed
    )
    return metrics | {"tenant": tenant} | _register(tenant, training)


def _register(tenant: str, training: Any) -> dict[str, Any]:
    """Register the assessed model; its name, version, gate and fingerprint."""
    from precredit.settings import get_settings
    from training import tracking
    from training.gate import GateConfig
    from training.table_registry import register_table

    settings = get_settings()
    client = tracking.connect(settings.mlflow_uri, settings.artifact_root)
    registration = register_table(client, tenant, training, GateConfig())
    typer.echo(
        f"registered {registration.name} version {registration.version} @challenger "
        f"(gate {'passed' if registration.verdict.passed else 'FAILED'})",
        err=True,
    )
    return registration.to_dict()
