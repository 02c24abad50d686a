"""`precredit evaluate-entities` and `precredit warnings ...` through the full app (wiring only).

The grades and rules themselves are checked in tests/features/test_evaluation.py and
test_warnings.py; here: the commands' output, exports and one-line errors on `tiny_store`.
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from catalog import store
from platform_services.warnings import DEFAULT_RULES
from precredit.cli import app
from precredit.cli.errors import run_guarded

runner = CliRunner()


@pytest.fixture(scope="module")
def platform(tiny_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of `tiny_store` with its feature snapshot as of 2025-12-31."""
    path = tmp_path_factory.mktemp("cli-eval") / "platform.duckdb"
    shutil.copy(tiny_store, path)
    args = ["features", "snapshot", "--as-of", "2025-12-31", "--store", str(path)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return path


def test_evaluate_entities_prints_grades_and_exports(platform: Path, tmp_path: Path) -> None:
    args = ["evaluate-entities", "--store", str(platform), "--out", str(tmp_path)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    graded = int(re.match(r"graded ([\d,]+) entities", lines[0]).group(1).replace(",", ""))  # type: ignore[union-attr]
    assert "entities/s" in lines[0]
    counts = {line.split()[0]: int(line.split()[3].replace(",", "")) for line in lines[1:5]}
    assert list(counts) == ["A", "B", "C", "D"]
    assert sum(counts.values()) == graded
    exported = [
        Path(line.removeprefix("exported ")) for line in lines if line.startswith("exported")
    ]
    assert [p.suffix for p in exported] == [".csv", ".parquet"]
    frame = pd.read_parquet(exported[1])
    assert len(frame) == graded
    assert frame["grade"].value_counts().to_dict() == {k: v for k, v in counts.items() if v}


def test_evaluate_listed_entities_regrades_only_them(platform: Path, tmp_path: Path) -> None:
    with store.connect(platform, read_only=True) as con:
        codes = [r[0] for r in con.execute("SELECT uscc FROM feature_snapshot LIMIT 3").fetchall()]
    listed = tmp_path / "codes.txt"
    listed.write_text("\n".join(codes) + "\n", encoding="utf-8")
    args = [
        "evaluate-entities",
        "--store",
        str(platform),
        "--out",
        str(tmp_path),
        "--entities",
        str(listed),
    ]
    runner.invoke(app, ["evaluate-entities", "--store", str(platform), "--out", str(tmp_path)])
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("graded 3 entities")
    with store.connect(platform, read_only=True) as con:
        total = store.scalar(con, "SELECT count(*) FROM entity_evaluation")
        newest = con.execute(
            "SELECT uscc FROM entity_evaluation ORDER BY evaluated_at DESC, uscc LIMIT 3"
        ).fetchall()
    assert f"entity_evaluation: {total:,} entities" in result.stdout
    assert sorted(r[0] for r in newest) == sorted(codes)


def test_warnings_run_prints_counts_per_rule(platform: Path, tmp_path: Path) -> None:
    args = ["warnings", "run", "--store", str(platform), "--out", str(tmp_path)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("warnings as of 2025-12-31: ")
    printed = {line.split()[0]: int(line.split()[1].replace(",", "")) for line in lines[1:-2]}
    assert list(printed) == [r.code for r in DEFAULT_RULES]
    with store.connect(platform, read_only=True) as con:
        stored = dict(
            con.execute("SELECT rule, count(*) FROM entity_warnings GROUP BY 1").fetchall()
        )
    assert printed == {code: stored.get(code, 0) for code in printed}
    assert pd.read_csv(tmp_path / "entity_warnings_2025-12-31.csv").shape[0] == sum(
        printed.values()
    )


def test_warnings_rules_lists_the_defaults_and_overrides(tmp_path: Path) -> None:
    result = runner.invoke(app, ["warnings", "rules"])
    assert result.exit_code == 0, result.output
    codes = [line.split()[0] for line in result.stdout.splitlines()]
    assert codes == [r.code for r in DEFAULT_RULES]
    overrides = tmp_path / "rules.yaml"
    overrides.write_text(
        "tax_rating_drop: {enabled: false}\nnew_court_debtor: {window_months: 6}\n"
    )
    result = runner.invoke(app, ["warnings", "rules", "--rules", str(overrides)])
    lines = {line.split()[0]: line.split() for line in result.stdout.splitlines()}
    assert "tax_rating_drop" not in lines
    assert lines["new_court_debtor"][2] == "6m"


@pytest.mark.parametrize(
    ("args", "code", "kind"),
    [
        (["evaluate-entities"], 3, "store_unavailable"),  # no snapshot in the store
        (["warnings", "run"], 2, "invalid_input"),  # no snapshot to take the date from
        (["warnings", "run", "--as-of", "31/12/2025"], 2, "invalid_input"),
        (["evaluate-entities", "--scale", "scale.json"], 2, "invalid_input"),
    ],
)
def test_errors_are_one_line(
    args: list[str],
    code: int,
    kind: str,
    tiny_store: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "platform.duckdb"
    shutil.copy(tiny_store, path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["precredit", *args, "--store", str(path)])
    with pytest.raises(SystemExit) as caught:
        run_guarded(app)
    assert caught.value.code == code
    err = capsys.readouterr().err
    assert err.startswith(f"precredit: error [{kind}]: ")
    assert err.count("\n") == 1
