"""The console script starts without the heavy packages: help and --version import none of them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import typer
from typer.testing import CliRunner

from precredit import __version__
from precredit.cli import app

HEAVY = ("pandas", "lightgbm", "mlflow", "duckdb", "fastapi", "sqlalchemy", "uvicorn", "shap")
# Run each command line in a fresh interpreter, then report which heavy packages got imported.
PROBE = """
import json, sys
from precredit.cli import app
for args in json.loads(sys.argv[1]):
    try:
        app(args, prog_name="precredit", standalone_mode=True)
    except BaseException:  # a command's own error, or its exit: only the imports matter here
        pass
print(json.dumps(sorted(m for m in json.loads(sys.argv[2]) if m in sys.modules)))
"""


def _command_lines() -> list[list[str]]:
    """`--help`, `--version` and `... --help` for every command and group of the app."""
    lines: list[list[str]] = [["--help"], ["--version"]]
    root = typer.main.get_group(app)
    for name, command in root.commands.items():
        lines.append([name, "--help"])
        for sub in getattr(command, "commands", {}):
            lines.append([name, sub, "--help"])
    return lines


def _heavy_imports(lines: list[list[str]], cwd: Path) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(lines), json.dumps(HEAVY)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return list(json.loads(done.stdout.strip().splitlines()[-1]))


def test_help_and_version_import_no_heavy_package(tmp_path: Path) -> None:
    assert _heavy_imports([["--help"]], tmp_path) == []
    assert _heavy_imports([["--version"]], tmp_path) == []


def test_every_command_help_imports_no_heavy_package(tmp_path: Path) -> None:
    lines = _command_lines()
    assert len(lines) > 30  # the probe reaches every subcommand
    assert _heavy_imports(lines, tmp_path) == []


def test_the_probe_sees_a_heavy_import(tmp_path: Path) -> None:
    """The check can fail: a command that runs (not only its help) imports what it needs."""
    assert "duckdb" in _heavy_imports([["codes", "validate", "x"], ["data", "check"]], tmp_path)


def test_version_prints_the_package_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"precredit {__version__}"


def test_offer_validity_help_names_the_offer_runs_default() -> None:
    """`offers run/rescore --valid-days` default to the offer run's; the help says which."""
    from serving.offer.run import DEFAULT_VALID_DAYS

    offers = typer.main.get_group(app).commands["offers"]
    for name in ("run", "rescore"):
        command = offers.commands[name]  # type: ignore[attr-defined]
        [option] = [p for p in command.params if p.name == "valid_days"]
        assert option.default is None
        assert f"[the offer run's: {DEFAULT_VALID_DAYS}]" in option.help
