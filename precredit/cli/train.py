"""`precredit train` and `precredit models`: train, register, gate and promote PD models."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from catalog.errors import InvalidInput
from precredit.cli import table as table_cli

if TYPE_CHECKING:
    from models.boosting import Boosting

models_app = typer.Typer(
    help="Registered models: promotion (gate, maker-checker) and its history.", no_args_is_help=True
)


class Scope(StrEnum):
    """The data a platform model may read."""

    full = "full"
    public = "public"


class Engine(StrEnum):
    """Where the PD model's trees grow."""

    local = "local"
    dask = "dask"


class Label(StrEnum):
    """Training labels on the platform store."""

    platform = "platform"
    outcomes = "outcomes"


def _write_metrics(metrics: dict[str, Any], out: Path | None) -> None:
    text = json.dumps(metrics, indent=2, ensure_ascii=False, default=str)
    if out is None:
        typer.echo(text)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n", encoding="utf-8")
    typer.echo(f"metrics written to {out}")


def train(
    label: Annotated[
        Label, typer.Option(help="platform: cold-start label; outcomes: bank loans")
    ] = Label.platform,
    tenant: Annotated[
        str | None,
        typer.Option(
            help="Bank id, or 'platform' (the default) for the cold-start model; with --table, "
            "the bank whose table model is registered"
        ),
    ] = None,
    table: Annotated[
        Path | None, typer.Option(help="Train on your own CSV/Parquet table instead")
    ] = None,
    target: Annotated[str | None, typer.Option(help="--table: the label column")] = None,
    positive: Annotated[
        str | None, typer.Option(help="--table: the label value meaning default")
    ] = None,
    time_col: Annotated[
        str | None, typer.Option(help="--table: date column for an out-of-time split")
    ] = None,
    id_col: Annotated[
        str | None, typer.Option(help="--table: identifier column (not a feature)")
    ] = None,
    join_platform: Annotated[
        bool,
        typer.Option(
            help="--table: add the platform's point-in-time features by --code-col and "
            "--time-col; report platform-only, table-only and combined models"
        ),
    ] = False,
    code_col: Annotated[
        str | None, typer.Option(help="--join-platform: the credit code (USCC) column")
    ] = None,
    negative: Annotated[
        str | None,
        typer.Option(help="--table: the label value meaning good (default: the only other one)"),
    ] = None,
    metrics_json: Annotated[Path | None, typer.Option(help="Write the metrics JSON here")] = None,
    trials: Annotated[
        int, typer.Option(min=1, help="--table: Optuna trials tuning LightGBM (per fold)")
    ] = 25,
    tune_seconds: Annotated[
        float, typer.Option(min=1.0, help="--table: time limit of one tuning, in seconds")
    ] = 120.0,
    seed: Annotated[int, typer.Option(help="Random seed")] = 42,
    promote: Annotated[
        bool, typer.Option(help="Promote automatically when the gate passes")
    ] = True,
    scope: Annotated[
        Scope,
        typer.Option(
            help="public: the public-records-only platform model (precredit-platform_public), "
            "without tax, social-insurance or utilities features"
        ),
    ] = Scope.full,
    engine: Annotated[
        Engine,
        typer.Option(
            help="local: LightGBM in this process; dask: lightgbm.dask on a local Dask cluster "
            "(the 'dask' extra; docs/dask.md)"
        ),
    ] = Engine.local,
    workers: Annotated[
        int, typer.Option(min=1, help="--engine dask: worker processes, one thread each")
    ] = 2,
) -> None:
    """Train the PD model on the platform store (tracked, registered, gated) or on any table."""
    if engine is Engine.dask:  # before the heavy imports: a missing extra is said at once
        from training.dask_engine import require_dask

        require_dask()
    from precredit.settings import get_settings
    from training.pipeline import PipelineConfig, run

    if table is not None:
        if engine is not Engine.local:
            raise InvalidInput("--engine dask trains on the platform store: not with --table")
        if not target or positive is None:
            raise InvalidInput("--table needs --target and --positive")
        from training.table import Roles, TableSpec  # only this path needs it
        from training.tuning import Budget

        spec = TableSpec(table, Roles(target, positive, time_col, id_col, negative))
        budget = Budget(trials=trials, seconds=tune_seconds)
        if join_platform and not code_col:
            raise InvalidInput("--join-platform needs --code-col (the credit code column)")
        joined_by = code_col if join_platform else None
        metrics = table_cli.train_table(spec, tenant, seed, budget, joined_by)
        _write_metrics(metrics, metrics_json)
        _summarise_table(metrics)
        return
    tenant = tenant or "platform"
    settings = get_settings()
    with _boosting(engine, workers, seed) as boosting:
        config = PipelineConfig(
            settings.store,
            settings.mlflow_uri,
            settings.artifact_root,
            seed=seed,
            auto_promote=promote,
            boosting=boosting,
        )
        result = run(label.value, tenant, config, scope=scope.value)
    if result.promotion is not None:  # auto-promoted: recorded like every other promotion
        from precredit.cli.retrain import _sessions
        from serving.db import promotions

        with _sessions()() as session:
            promotions.record(session, result.promotion)
            session.commit()
    _write_metrics(result.to_dict(), metrics_json)


@contextmanager
def _boosting(engine: Engine, workers: int, seed: int) -> Iterator[Boosting | None]:
    """The boosting of this run: None (in this process) or on a local Dask cluster it starts."""
    if engine is Engine.local:
        yield None
        return
    from models.boosting import Boosting
    from training.dask_engine import DaskEngine, local_cluster

    with local_cluster(workers, seed) as client:
        yield Boosting(engine=DaskEngine(client))


def _summarise_table(result: dict[str, Any]) -> None:
    """Candidates, the chosen model and every baseline on the same rows; loud when one wins."""
    lines = [f"split {result['split']}: chosen {', '.join(result['chosen'])}"]
    for model in result["models"]:
        inner = ", ".join(f"{k} {v:.4f}" for k, v in model["inner_auc"].items())
        lines.append(f"  candidates (inner AUC): {inner}; chosen {model['chosen']}")
    names = ("auc", "auc_scorecard", "auc_logistic", "auc_lightgbm_default")
    lines.append("  test AUC: " + ", ".join(f"{name} {result[name]:.4f}" for name in names))
    for line in lines:
        typer.echo(line, err=True)
    typer.secho(
        result["verdict"], err=True, bold=True, fg=None if result["beats_baselines"] else "red"
    )
