"""The one YAML/TOML reader behind policies, scales and warning rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from catalog import config_file
from catalog.errors import InvalidInput


@pytest.mark.parametrize("name", ["a.yaml", "a.yml", "a.toml"])
def test_yaml_and_toml_read_to_the_same_data(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    text = 'limit = 3\nname = "x"\n' if name.endswith(".toml") else "limit: 3\nname: x\n"
    path.write_text(text, encoding="utf-8")
    assert config_file.read(path, "policy") == {"limit": 3, "name": "x"}


def test_errors_name_the_file_and_position_without_quoting_it(tmp_path: Path) -> None:
    bad = tmp_path / "bank.yaml"
    bad.write_text("secret_value: [unclosed", encoding="utf-8")
    with pytest.raises(InvalidInput, match=r"^rules bank.yaml: invalid YAML at line 1") as info:
        config_file.read(bad, "rules")
    assert "secret_value" not in info.value.message
    toml = tmp_path / "bank.toml"
    toml.write_text("a = = 1", encoding="utf-8")
    with pytest.raises(InvalidInput, match=r"^scale bank.toml: invalid TOML: "):
        config_file.read(toml, "scale")


def test_refuses_other_suffixes_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"expected a \.yaml, \.yml or \.toml file"):
        config_file.read(tmp_path / "policy.json", "policy")
    with pytest.raises(InvalidInput, match=r"cannot read \(FileNotFoundError\)"):
        config_file.read(tmp_path / "missing.yaml", "policy")
