"""`precredit policies set|list`: a bank's product policy from a file, versioned."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from catalog.errors import InvalidInput, NotFound
from precredit.cli import app
from precredit.settings import get_settings

runner = CliRunner()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh home with bank_a registered."""
    monkeypatch.setenv("PRECREDIT_HOME", str(tmp_path))
    monkeypatch.delenv("PRECREDIT_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    assert runner.invoke(app, ["banks", "add", "Bank A", "--id", "bank_a"]).exit_code == 0
    yield tmp_path
    get_settings.cache_clear()


def test_set_versions_a_policy_and_list_shows_it(home: Path) -> None:
    policy = home / "tax_loan.toml"
    policy.write_text('product = "tax_loan"\nversion = "1"\nmin_limit_cny = 50000.0\n')
    first = runner.invoke(app, ["policies", "set", "--tenant", "bank_a", str(policy)])
    assert first.exit_code == 0, first.output
    assert "product tax_loan: stored as version 1" in first.output
    again = runner.invoke(app, ["policies", "set", "--tenant", "bank_a", str(policy)])
    assert "unchanged, still version 1" in again.output
    policy.write_text('product = "tax_loan"\nversion = "2"\nmin_limit_cny = 60000.0\n')
    second = runner.invoke(app, ["policies", "set", "--tenant", "bank_a", str(policy)])
    assert "stored as version 2" in second.output
    listed = runner.invoke(app, ["policies", "list", "--tenant", "bank_a"])
    [line] = [json.loads(row) for row in listed.output.splitlines()]
    assert (line["product"], line["version"]) == ("tax_loan", 2)


def test_an_invalid_file_or_unknown_bank_is_refused(home: Path) -> None:
    policy = home / "bad.yaml"
    policy.write_text("version: '1'\npd_multiplier: [{max_pd: 0.5, multiplier: 1.0}]\n")
    refused = runner.invoke(app, ["policies", "set", "--tenant", "bank_a", str(policy)])
    assert isinstance(refused.exception, InvalidInput)
    assert "pd_multiplier: " in refused.exception.message
    assert "last step must have max_pd 1.0" in refused.exception.message
    good = home / "good.yaml"
    good.write_text("version: '1'\n")
    unknown = runner.invoke(app, ["policies", "set", "--tenant", "nobody", str(good)])
    assert isinstance(unknown.exception, NotFound)
