"""`precredit codes`: check unified social credit codes (统一社会信用代码) and explain failures."""

from __future__ import annotations

import json
import sys
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

from catalog.errors import InvalidInput
from catalog.uscc import USCCParts, USCCVerdict, check_many

app = typer.Typer(
    help="Check unified social credit codes (统一社会信用代码, GB 32100-2015).",
    no_args_is_help=True,
)

_HEADER = ("CODE", "STATUS", "REASON", "DETAILS")


# A callback keeps `validate` a named subcommand although it is, for now, the only one.
@app.callback()
def codes_group() -> None:
    """Check unified social credit codes (统一社会信用代码, GB 32100-2015)."""


@app.command()
def validate(
    codes: Annotated[
        list[str] | None, typer.Argument(help="Credit codes to check.", show_default=False)
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option("--file", "-f", help="Read codes from a file, one per line ('-': stdin)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list of verdicts.")] = False,
    strict: Annotated[
        bool, typer.Option("--strict", help="Exit 1 when any code is invalid.")
    ] = False,
) -> None:
    """Report, code by code, whether it is valid and why not; exit 0 unless --strict."""
    raws = [*(codes or []), *_read_codes(file)]
    if not raws:
        raise InvalidInput("no credit codes given: pass them as arguments or with --file")
    verdicts = check_many(raws)
    typer.echo(_as_json(verdicts) if as_json else _as_table(verdicts))
    if strict and not all(verdict.valid for verdict in verdicts):
        raise typer.Exit(code=1)


def _read_codes(file: Path | None) -> list[str]:
    """The non-blank lines of `file` ('-' reads stdin); none without a file."""
    if file is None:
        return []
    text = sys.stdin.read() if str(file) == "-" else _read_text(file)
    return [line for line in text.splitlines() if line.strip()]


def _read_text(path: Path) -> str:
    """A UTF-8 text file (a byte-order mark is allowed), or one readable error."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput(f"{path} is not UTF-8 text") from None
    except OSError as error:
        raise InvalidInput(f"cannot read {path}: {error.strerror}") from None


def _as_json(verdicts: Sequence[USCCVerdict]) -> str:
    """The verdicts as a JSON list, Chinese names kept readable."""
    return json.dumps([verdict.to_dict() for verdict in verdicts], ensure_ascii=False, indent=2)


def _as_table(verdicts: Sequence[USCCVerdict]) -> str:
    """One aligned line per code, then a summary line."""
    rows = [_HEADER, *(_row(verdict) for verdict in verdicts)]
    widths = [max(_width(row[column]) for row in rows) for column in range(len(_HEADER) - 1)]
    lines = [
        "  ".join([*(_pad(cell, width) for cell, width in zip(row, widths, strict=False)), row[-1]])
        for row in rows
    ]
    valid = sum(verdict.valid for verdict in verdicts)
    noun = "code" if len(verdicts) == 1 else "codes"
    lines.append(f"{len(verdicts)} {noun}: {valid} valid, {len(verdicts) - valid} invalid")
    return "\n".join(lines)


def _row(verdict: USCCVerdict) -> tuple[str, str, str, str]:
    """The table cells of one verdict: the parts when valid, the failure otherwise."""
    code = verdict.code or "(empty)"
    if verdict.parts is None:
        return code, "INVALID", verdict.reason or "-", verdict.message or ""
    return code, "VALID", "-", _describe(verdict.parts)


def _describe(parts: USCCParts) -> str:
    """Authority, entity type (English and Chinese), division and organisation code."""
    return (
        f"{parts.authority_name_en} ({parts.authority_name_zh}) / "
        f"{parts.entity_type_name_en} ({parts.entity_type_name_zh}), "
        f"division {parts.division}, org code {parts.org_code}"
    )


def _width(text: str) -> int:
    """Terminal columns taken by `text`: wide (CJK, full-width) characters take two."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def _pad(text: str, width: int) -> str:
    """`text` padded with spaces to `width` terminal columns."""
    return text + " " * (width - _width(text))
