"""`precredit codes validate`: text table, JSON, files and stdin, and the error line."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from catalog.errors import InvalidInput
from precredit.cli.codes import app
from precredit.cli.errors import run_guarded

VALID = "91350100M000100Y43"
INVALID = "91110000600037341N"
runner = CliRunner()


def test_table_has_one_aligned_line_per_code_and_a_summary() -> None:
    result = runner.invoke(
        app, ["validate", VALID, INVALID, "９２３４０６０２ＭＡ２ＰＢＭＥＭ２４"]
    )
    assert result.exit_code == 0, result.output
    header, valid, invalid, fullwidth, summary = result.stdout.splitlines()
    assert header.split() == ["CODE", "STATUS", "REASON", "DETAILS"]
    assert valid.startswith(f"{VALID}  VALID")
    assert "enterprise (企业)" in valid
    assert "industry and commerce (工商)" in valid
    assert "division 350100" in valid
    assert "org code M000100Y4" in valid
    assert invalid.split()[:3] == [INVALID, "INVALID", "check_char"]
    assert "position 18" in invalid
    assert fullwidth.startswith("92340602MA2PBMEM24  VALID")
    assert "individual business (个体工商户)" in fullwidth
    assert header.index("DETAILS") == valid.index("industry") == invalid.index("check character")
    assert summary == "3 codes: 2 valid, 1 invalid"


def test_wide_characters_keep_the_columns_aligned() -> None:
    result = runner.invoke(app, ["validate", VALID, "统一社会信用代码"])
    wide = result.stdout.splitlines()[2]
    assert wide.startswith("统一社会信用代码" + " " * 4 + "INVALID  length")


def test_json_is_a_list_of_verdicts() -> None:
    result = runner.invoke(app, ["validate", "--json", VALID, INVALID])
    assert result.exit_code == 0, result.output
    assert "企业" in result.stdout
    first, second = json.loads(result.stdout)
    assert {"code", "valid", "reason", "message", "parts"} <= set(first)
    assert (first["valid"], first["parts"]["division"]) == (True, "350100")
    assert (second["code"], second["valid"], second["reason"]) == (INVALID, False, "check_char")
    assert second["parts"] is None


def test_codes_from_a_file_after_the_arguments(tmp_path: Path) -> None:
    listing = tmp_path / "codes.txt"
    listing.write_text("\ufeff91310115591693856A\n\n   \n91350100M000100Y4Z\n", encoding="utf-8")
    result = runner.invoke(app, ["validate", VALID, "--file", str(listing), "--json"])
    assert result.exit_code == 0, result.output
    verdicts = json.loads(result.stdout)
    assert [v["code"] for v in verdicts] == [VALID, "91310115591693856A", "91350100M000100Y4Z"]
    assert [v["reason"] for v in verdicts] == [None, None, "charset"]


def test_codes_from_stdin() -> None:
    result = runner.invoke(app, ["validate", "-f", "-"], input=f"{VALID}\n{INVALID}\n")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == "2 codes: 1 valid, 1 invalid"


@pytest.mark.parametrize(("codes", "exit_code"), [([VALID], 0), ([VALID, INVALID], 1)])
def test_strict_fails_only_when_a_code_is_invalid(codes: list[str], exit_code: int) -> None:
    assert runner.invoke(app, ["validate", "--strict", *codes]).exit_code == exit_code


@pytest.mark.parametrize("listing", [None, "missing.txt", "blank.txt"])
def test_no_codes_is_invalid_input(
    listing: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("blank.txt").write_text("\n  \n", encoding="utf-8")
    args = ["validate"] if listing is None else ["validate", "--file", listing]
    result = runner.invoke(app, args)
    assert isinstance(result.exception, InvalidInput), result.output


def test_error_line_from_the_runner(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["precredit", "validate"])
    with pytest.raises(SystemExit) as caught:
        run_guarded(app)
    assert caught.value.code == 2
    error = capsys.readouterr().err
    assert error.startswith("precredit: error [invalid_input]: no credit codes given")
    assert error.count("\n") == 1
