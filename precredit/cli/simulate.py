"""`precredit simulate`: banks lend through the real API round after round; the loop's report."""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
import time
from pathlib import Path
from typing import Annotated

import typer

from catalog.errors import InvalidInput


def _start(value: str | None) -> dt.date | None:
    try:
        return None if value is None else dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidInput("--start must be a date in the form YYYY-MM-DD") from None


def _source(entities: int | None) -> Path | None:
    """The demo store to copy, or None to generate `entities` afresh."""
    from precredit.settings import get_settings

    if entities is not None:
        return None
    path = get_settings().store
    if not path.exists():
        raise InvalidInput(f"no platform store at {path}: run `precredit demo` or pass --entities")
    return path


def simulate(
    report: Annotated[
        Path, typer.Option("--report", help="Directory for report.md, report.json, plots")
    ],
    banks: Annotated[int, typer.Option("--banks", help="Number of simulated banks")] = 2,
    rounds: Annotated[int, typer.Option("--rounds", help="Number of rounds")] = 8,
    entities: Annotated[
        int | None,
        typer.Option(
            "--entities",
            help="Generate a fresh platform of this size (default: copy the demo store)",
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of every random choice")] = 42,
    months: Annotated[int, typer.Option("--months", help="Months per round")] = 3,
    start: Annotated[
        str | None, typer.Option("--start", help="First round date (default: the latest that fits)")
    ] = None,
    pooling: Annotated[
        bool, typer.Option("--pooling", help="Every bank opts into pooling outcomes")
    ] = False,
    home: Annotated[
        Path | None,
        typer.Option("--home", help="Keep the scratch home (store, MLflow, service DB) here"),
    ] = None,
    reject_inference: Annotated[
        str,
        typer.Option(
            "--reject-inference", help="Declined applicants in retraining: none, fuzzy, platform"
        ),
    ] = "platform",
    maturing: Annotated[
        str,
        typer.Option(
            "--maturing-labels",
            help="none; censoring: loans younger than 12 months reported and trained on; "
            "early_delinquency: also their 30+ DPD at 3 or 6 months",
        ),
    ] = "none",
) -> None:
    """Simulate banks lending on pre-approvals, reporting outcomes and retraining through the API."""
    from simulation import report as simulation_report
    from simulation.run import SimulationConfig, default_banks, prepare_home
    from simulation.run import simulate as run
    from training.reject_inference import METHODS

    if reject_inference not in METHODS:
        raise InvalidInput(f"--reject-inference must be one of {', '.join(METHODS)}")
    from training import maturing as labels

    if maturing not in labels.METHODS:
        raise InvalidInput("--maturing-labels must be none, censoring or early_delinquency")
    config = SimulationConfig(
        default_banks(banks),
        rounds,
        months,
        _start(start),
        seed,
        pooling,
        reject_inference=reject_inference,
        maturing=maturing,
    )
    scratch = home or Path(tempfile.mkdtemp(prefix="precredit-sim-"))
    started = time.perf_counter()
    try:
        typer.echo(f"scratch home {scratch} ({'kept' if home else 'removed at the end'})")
        prepare_home(scratch, _source(entities), entities or 0, seed)
        result, loans = run(
            scratch,
            config,
            lambda line: typer.echo(f"{time.perf_counter() - started:6.0f} s  {line}"),
        )
        paths = simulation_report.write(result, report)
        loans.to_csv(report / "loans.csv", index=False)
    finally:
        if home is None:
            shutil.rmtree(scratch, ignore_errors=True)
    for bank, summary in result.summary.items():
        typer.echo(simulation_report.statement(bank, summary).replace("**", ""))
    typer.echo(
        f"report: {', '.join(p.name for p in paths)}, loans.csv in {report} "
        f"({time.perf_counter() - started:.0f} s)"
    )
