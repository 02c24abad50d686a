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


def train_table(
    spec: TableSpec, tenant: str | None, seed: int, budget: Budget, code_col: str | None = None
) -> dict[str, Any]:
    """The metrics JSON; with a tenant, the model is also registered as @challenger.

    With `code_col` (`--join-platform`) the table is joined to the platform's point-in-time
    features and the combined model is the one reported in full and registered.
    """
    from training.table import Assessment, assess, load_table, prepare

    if tenant is not None:
        check_bank(tenant)
    frame = load_table(spec.path)
    side: dict[str, Any] = {}
    if code_col is None:
        prepared = prepare(frame, spec.roles)
        _warn(prepared.warnings)
        found = assess(prepared, seed, budget)
    else:
        frame, prepared, found, side = _joined(frame, spec, code_col, seed, budget)
    roles = spec.roles
    about = {"table": spec.path.name, "target": roles.target, "positive": roles.positive}
    metrics = found.metrics | about | side
    if tenant is None:
        return metrics
    from training.table_registry import TableTraining

    assessed = Assessment(metrics, found.model, found.test_rows)
    platform: tuple[str, ...] = ()
    if code_col is not None:
        from features.definitions import REGISTRY

        platform = tuple(n for n in prepared.spec.names if n in set(REGISTRY.names))
    training = TableTraining(frame, prepared, assessed, spec, seed, platform)
    return metrics | {"tenant": tenant} | _register(tenant, training)


def _warn(warnings: Any) -> None:
    for warning in warnings:
        typer.echo(f"precredit: warning [{warning.code}]: {warning.message}", err=True)


def _joined(frame: Any, spec: TableSpec, code_col: str, seed: int, budget: Budget) -> Any:
    """Platform-only, table-only and combined models on the same rows; the combined in full."""
    from catalog import store
    from precredit.settings import get_settings
    from training.table_join import side_by_side, summary_lines, variants

    with store.connect(get_settings().store, read_only=True) as con:
        tables = variants(frame, spec.roles, code_col, con)
    joined = side_by_side(tables, spec.roles, seed, budget)
    _warn(joined.prepared.warnings)
    typer.echo("joined to the platform's point-in-time features (same rows, same split):", err=True)
    for line in summary_lines(joined.side_by_side):
        typer.echo(line, err=True)
    side = {"join_platform": {"code_col": code_col, "models": joined.side_by_side}}
    return joined.frame, joined.prepared, joined.assessment, side


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
