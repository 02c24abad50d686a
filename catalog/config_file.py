"""Configuration files: the one reader for the YAML and TOML that policies, scales and rules use.

Errors name the kind and file (`policy bank.yaml: ...`) and say where parsing failed, never
quoting the file's lines back.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import yaml

from catalog.errors import InvalidInput

SUFFIXES = (".yaml", ".yml", ".toml")


def read(path: Path, what: str) -> Any:
    """The data of a `.yaml`, `.yml` or `.toml` file; InvalidInput names `what` and the file."""
    where = f"{what} {path.name}"
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise InvalidInput(f"{where}: expected a .yaml, .yml or .toml file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{where}: cannot read ({type(exc).__name__})") from None
    return parse(text, suffix, where)


def parse(text: str, suffix: str, where: str) -> Any:
    """Parse YAML (or TOML when `suffix` is `.toml`); InvalidInput starts with `where`."""
    try:
        return tomllib.loads(text) if suffix == ".toml" else yaml.safe_load(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"{where}: invalid TOML: {exc}") from None
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{where}: invalid YAML{_yaml_position(exc)}") from None


def _yaml_position(exc: yaml.YAMLError) -> str:
    # str(exc) quotes the offending lines; only the problem and its position are reported.
    if not isinstance(exc, yaml.MarkedYAMLError) or exc.problem_mark is None:
        return ""
    mark = exc.problem_mark
    return f" at line {mark.line + 1}, column {mark.column + 1}: {exc.problem}"
