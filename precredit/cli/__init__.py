"""The `precredit` console script: one Typer app grouping every command.

Starting is cheap: the command modules import only typer and the standard library at the top;
each command imports the packages it runs (pandas, LightGBM, MLflow, DuckDB, FastAPI...) in its
body, so `precredit --help`, `--version` and `COMMAND --help` load none of them.
"""

from __future__ import annotations

import logging
import os
from typing import Annotated

# OpenMP threads (LightGBM) sleep instead of spinning between parallel regions: spinning made
# training 5-8x slower and starved the other API worker on a busy 2-core machine. Set before
# LightGBM loads (inside the commands), so workers spawned by `serve` inherit it.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import typer

from precredit import __version__
from precredit.cli import (
    audit,
    calendars,
    clients,
    codes,
    consents,
    data,
    disputes,
    evaluation,
    features,
    monitor,
    offers,
    platform,
    policies,
    promotions,
    registry,
    retrain,
    service,
    simulate,
    synth,
    train,
    validate,
    warnings,
)
from precredit.cli.errors import run_guarded

app = typer.Typer(
    name="precredit",
    help="Enterprise pre-credit (预授信) on public credit platform data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
platform.app.command("generate")(synth.generate)
app.command("demo")(synth.demo)
app.add_typer(codes.app, name="codes")
app.add_typer(platform.app, name="platform")
app.add_typer(data.app, name="data")
app.add_typer(features.app, name="features")
app.command("evaluate-entities")(evaluation.evaluate_entities)
app.add_typer(warnings.app, name="warnings")
app.command("train")(train.train)
train.models_app.command("promote")(promotions.promote)
train.models_app.command("history")(promotions.history)
train.models_app.command("list")(registry.list_models)
app.add_typer(train.models_app, name="models")
app.command("retrain")(retrain.retrain)
app.command("retrain-due")(retrain.retrain_due)
app.command("monitor")(monitor.monitor)
app.command("validate")(validate.validate)
app.command("serve")(service.serve)
app.command("simulate")(simulate.simulate)
app.add_typer(service.banks_app, name="banks")
app.add_typer(clients.operators_app, name="operators")
app.add_typer(clients.financing_app, name="financing-platform")
app.add_typer(policies.policies_app, name="policies")
app.add_typer(consents.consents_app, name="consents")
app.add_typer(calendars.calendar_app, name="calendar")
app.add_typer(offers.offers_app, name="offers")
app.add_typer(offers.webhooks_app, name="webhooks")
app.add_typer(audit.audit_app, name="audit")
app.add_typer(disputes.disputes_app, name="disputes")


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"precredit {__version__}")
        raise typer.Exit


@app.callback()
def precredit(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Enterprise pre-credit (预授信) on public credit platform data."""
    # Runs before every command (not for --help or --version): the registry's HTTP limits.
    from serving.config import registry_http_defaults

    registry_http_defaults()


def main() -> None:
    """Entry point: run the app, turning expected errors into one readable line."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    run_guarded(app)
