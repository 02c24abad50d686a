"""`precredit platform import|export` and `precredit data check` through the full app."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from catalog import schema, store
from catalog.errors import InvalidPlatformData, StoreError
from precredit.cli import app
from precredit.cli.errors import run_guarded
from precredit.settings import get_settings

runner = CliRunner()
A, B = "91350100M000100Y43", "91310115591693856A"
ENTITY_HEADER = ",".join(schema.ENTITIES.column_names)


def entity_line(code: str, entity_type: str = "enterprise") -> str:
    return f"{code},1,企业,{entity_type},441500,C,2019-03-01,1000000,,2019-03-05"


@pytest.fixture
def files(tmp_path: Path) -> Path:
    """A platform directory: two good entities, one with a bad enum, and an unknown file."""
    directory = tmp_path / "in"
    directory.mkdir()
    lines = [ENTITY_HEADER, entity_line(A), entity_line(B), entity_line(A[:-1] + "0", "firm")]
    (directory / "entities.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (directory / "README.txt").write_text("exported by the platform\n", encoding="utf-8")
    return directory


def test_import_creates_the_store_and_prints_a_summary(files: Path, tmp_path: Path) -> None:
    path = tmp_path / "home" / "platform.duckdb"
    result = runner.invoke(app, ["platform", "import", "--from", str(files), "--store", str(path)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        "file",
        "table",
        "read",
        "added",
        "quarantined",
        "present",
        "flagged",
    ]
    assert lines[1].split()[:7] == ["entities.csv", "entities", "3", "2", "1", "0", "0"]
    assert "    enum:entity_type: 1" in lines
    assert "(unknown file name)" in result.stdout
    assert lines[-1].startswith("total: 3 read, 2 added, 1 quarantined")
    with store.connect(path) as con:
        assert store.scalar(con, "SELECT count(*) FROM entities") == 2


def test_import_json_and_a_second_import_adds_nothing(files: Path, tmp_path: Path) -> None:
    args = ["platform", "import", "--from", str(files), "--store", str(tmp_path / "s.duckdb")]
    first = json.loads(runner.invoke(app, [*args, "--json"]).stdout)
    second = json.loads(runner.invoke(app, [*args, "--json"]).stdout)
    assert first["totals"]["rows_added"] == 2
    assert first["totals"]["rows_quarantined"] == 1
    assert second["totals"] == dict.fromkeys(first["totals"], 0)
    assert second["files"][0]["skipped_reason"] == "already imported"


def test_import_from_a_missing_directory_is_refused_without_a_store(tmp_path: Path) -> None:
    path = tmp_path / "s.duckdb"
    args = ["platform", "import", "--from", str(tmp_path / "nope"), "--store", str(path)]
    result = runner.invoke(app, args)
    assert isinstance(result.exception, InvalidPlatformData)
    assert not path.exists()


def test_export_then_import_reproduces_the_content(files: Path, tmp_path: Path) -> None:
    first, second = tmp_path / "a.duckdb", tmp_path / "b.duckdb"
    runner.invoke(app, ["platform", "import", "--from", str(files), "--store", str(first)])
    out = tmp_path / "out"
    result = runner.invoke(
        app, ["platform", "export", "--to", str(out), "--format", "csv", "--store", str(first)]
    )
    assert result.exit_code == 0, result.output
    assert (out / "entities.csv").exists()
    runner.invoke(app, ["platform", "import", "--from", str(out), "--store", str(second)])
    hashes = []
    for path in (first, second):
        with store.connect(path, read_only=True) as con:
            hashes.append(store.content_hash(con, schema.IMPORTABLE))
    assert hashes[0] == hashes[1]


def test_data_check_text_and_json(
    files: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PRECREDIT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("PRECREDIT_STORE_PATH", raising=False)
    get_settings.cache_clear()
    try:
        runner.invoke(app, ["platform", "import", "--from", str(files)])
        text = runner.invoke(app, ["data", "check"])
        as_json = runner.invoke(app, ["data", "check", "--json"])
    finally:
        get_settings.cache_clear()
    assert (tmp_path / "home" / "platform.duckdb").exists()
    assert text.exit_code == as_json.exit_code == 0, text.output
    assert any(line.split()[:2] == ["entities", "2"] for line in text.stdout.splitlines())
    assert "Quarantine: 1 rows" in text.stdout
    report = json.loads(as_json.stdout)
    assert report["codes"]["distinct_codes"] == 2
    assert report["quarantine"]["by_table"] == {"entities": {"enum:entity_type": 1}}


def test_data_check_on_a_missing_store_raises_a_store_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["data", "check", "--store", str(tmp_path / "missing.duckdb")])
    assert isinstance(result.exception, StoreError)


@pytest.mark.parametrize("broken", ["missing", "no_tables"])
def test_data_check_on_a_broken_store_exits_3_with_one_line(
    broken: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "platform.duckdb"
    if broken == "no_tables":
        duckdb.connect(str(path)).close()
    monkeypatch.setattr(sys, "argv", ["precredit", "data", "check", "--store", str(path)])
    with pytest.raises(SystemExit) as caught:
        run_guarded(app)
    assert caught.value.code == 3
    captured = capsys.readouterr()
    assert captured.err.startswith("precredit: error [store_unavailable]: ")
    assert captured.err.count("\n") == 1
    assert "Traceback" not in captured.err + captured.out
