"""The `precredit` console script: one Typer app grouping every command."""

from __future__ import annotations

import logging
import os

import typer

from precredit.cli import codes, data, features, platform, service, synth, train
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
app.command("train")(train.train)
app.add_typer(train.models_app, name="models")
app.command("serve")(service.serve)
app.add_typer(service.banks_app, name="banks")


def main() -> None:
    """Entry point: run the app, turning expected errors into one readable line."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    run_guarded(app)
