"""The `precredit` console script: one Typer app grouping every command."""

from __future__ import annotations

import typer

from precredit.cli import codes, data, features, platform, synth
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


def main() -> None:
    """Entry point: run the app, turning expected errors into one readable line."""
    run_guarded(app)
