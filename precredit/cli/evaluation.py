"""`precredit evaluate-entities`: the public credit composite evaluation of every entity."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from precredit.cli.features import Entities, _read_codes
from precredit.cli.platform import StoreOption, store_path

if TYPE_CHECKING:
    from platform_services.evaluation import EvaluationRun, Scale


OutOption = Annotated[
    Path | None,
    typer.Option("--out", help="Export directory (default: $PRECREDIT_HOME/exports)."),
]
ScaleOption = Annotated[
    Path | None,
    typer.Option("--scale", help="Evaluation scale (.yaml/.toml); default: the shipped scale."),
]


def out_dir(option: Path | None) -> Path:
    """The export directory named on the command line, else `$PRECREDIT_HOME/exports`."""
    from precredit.settings import get_settings

    return option if option is not None else get_settings().home / "exports"


def _report(
    run: EvaluationRun,
    scale: Scale,
    leading: dict[str, tuple[str, str, float]],
    rows: int,
    deregistered: int,
) -> list[str]:
    from platform_services import evaluation

    lines = [
        f"graded {run.entities:,} entities in {run.seconds:.2f} s ({run.per_second:,.0f} "
        f"entities/s), scale {scale.name} {scale.version}"
    ]
    for grade in scale.grades:
        n = run.grades.get(grade.label, 0)
        share = 100 * n / run.entities if run.entities else 0.0
        first = leading.get(grade.label)
        why = f"   most often first: {first[0]} ({100 * first[2]:.0f}%)" if first else ""
        lines.append(f"  {grade.label} {grade.zh} {grade.en:10} {n:>9,} {share:5.1f}%{why}")
    lines.append(
        f"{evaluation.TABLE}: {rows:,} entities, {deregistered:,} of them deregistered "
        "(graded, flagged in column status)"
    )
    return lines


def evaluate_entities(
    out: OutOption = None,
    scale_file: ScaleOption = None,
    entities: Entities = None,
    store_option: StoreOption = None,
) -> None:
    """Grade every snapshot entity A/B/C/D with reasons (or, with --entities, refresh and
    re-grade only those after a correction or repair); write the table and the exports."""
    from catalog import store
    from platform_services import evaluation

    scale = evaluation.load_scale(scale_file) if scale_file else evaluation.default_scale()
    with store.connect(store_path(store_option)) as con:
        run = (
            evaluation.reevaluate(con, _read_codes(entities), scale)
            if entities
            else evaluation.evaluate(con, scale=scale)
        )
        [(rows, deregistered)] = con.execute(
            f"SELECT count(*), count(*) FILTER (WHERE status = 'deregistered') "
            f"FROM {evaluation.TABLE}"
        ).fetchall()
        leading = evaluation.leading_reasons(con)
        paths = evaluation.export(con, out_dir(out))
    for line in _report(run, scale, leading, int(rows), int(deregistered)):
        typer.echo(line)
    for path in paths:
        typer.echo(f"exported {path}")
