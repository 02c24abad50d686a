"""No test reads or writes the working directory's state (`make demo` then `make test` works)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from precredit.cli import app
from precredit.settings import get_settings


def _state(directory: Path) -> dict[str, tuple[int, int]]:
    """Name -> (size, mtime) of the directory's entries and of its `.precredit/` and `docs/`."""
    entries = list(directory.iterdir())
    for sub in (".precredit", "docs"):
        if (directory / sub).is_dir():
            entries += list((directory / sub).rglob("*"))
    return {
        str(p.relative_to(directory)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in entries
        if p.exists()
    }


@pytest.fixture
def invocation_dir(request: pytest.FixtureRequest) -> Path:
    """Where pytest was started (the directory a demo's `.precredit/` lives in)."""
    return Path(request.config.invocation_params.dir)


def test_each_test_runs_in_a_scratch_directory_and_home(
    tmp_path: Path, invocation_dir: Path
) -> None:
    assert Path.cwd() == tmp_path != invocation_dir
    home = get_settings().home.resolve()
    assert home.is_relative_to(tmp_path)
    assert not home.is_relative_to(invocation_dir)
    assert os.environ["PRECREDIT_HOME"] == str(tmp_path / ".precredit")


def test_a_cli_run_leaves_the_real_working_directory_untouched(
    tmp_path: Path, invocation_dir: Path
) -> None:
    """The CLI writes its defaults (home store, docs/features.md) under the scratch dirs only."""
    before = _state(invocation_dir)
    runner = CliRunner()
    generated = runner.invoke(app, ["platform", "generate", "--entities", "200", "--seed", "3"])
    assert generated.exit_code == 0, generated.output
    documented = runner.invoke(app, ["features", "docs"])
    assert documented.exit_code == 0, documented.output
    assert (tmp_path / ".precredit" / "platform.duckdb").is_file()
    assert (tmp_path / "docs" / "features.md").is_file()
    assert _state(invocation_dir) == before
