"""`precredit train --table ... --join-platform --code-col C`: a bank's table with platform features.

The bank's table is 1,500 seeded rows of the session's cold-start frame of `small_store`
(credit code, date, good/bad) with two columns of the bank's own (a score carrying part of
the label, and noise). The join must give the features the training-set path computed for the
same (code, date) pairs, and the command must report the three models side by side.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from table_home import bank_table as joined_table
from typer.testing import CliRunner

from catalog import store
from catalog.errors import InvalidInput
from features.definitions import REGISTRY
from precredit.cli import app
from precredit.settings import get_settings
from training.table import Roles, prepare
from training.table_join import declared, variants

ROWS = 1_500
ROLES = Roles("status", "bad", "applied")
runner = CliRunner()


@pytest.fixture(scope="module")
def bank_table(platform_frame: pd.DataFrame) -> pd.DataFrame:
    return joined_table(platform_frame, ROWS)


@pytest.fixture(scope="module")
def home(small_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("join_home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PRECREDIT_HOME", str(home))
        patch.setenv("PRECREDIT_STORE_PATH", str(small_store))
        patch.delenv("PRECREDIT_TRACKING_URI", raising=False)
        get_settings.cache_clear()
        try:
            yield home
        finally:
            get_settings.cache_clear()


def test_the_join_gives_the_training_set_features_of_each_pair(
    small_store: Path, platform_frame: pd.DataFrame, bank_table: pd.DataFrame
) -> None:
    with store.connect(small_store, read_only=True) as con:
        tables = variants(bank_table, ROLES, "credit_code", con)
    names = REGISTRY.names
    expected = platform_frame.set_index(["uscc", pd.to_datetime(platform_frame["as_of"])])
    keys = list(zip(bank_table["credit_code"], pd.to_datetime(bank_table["applied"]), strict=True))
    np.testing.assert_array_equal(
        tables["combined"][names].to_numpy(), expected.loc[keys, names].to_numpy()
    )
    assert list(tables["platform_only"].columns) == ["status", "applied", *names]
    assert "credit_code" not in tables["table_only"]
    assert "credit_code" not in tables["combined"]


@pytest.mark.parametrize(
    ("roles", "code", "message"),
    [
        (Roles("status", "bad"), "credit_code", "needs --time-col"),
        (ROLES, "uscc", "code column 'uscc' is not in the table"),
        (ROLES, "status", "must differ from the target"),
    ],
)
def test_a_join_without_its_columns_is_invalid_input(
    small_store: Path, bank_table: pd.DataFrame, roles: Roles, code: str, message: str
) -> None:
    with (
        store.connect(small_store, read_only=True) as con,
        pytest.raises(InvalidInput, match=message),
    ):
        variants(bank_table, roles, code, con)


def test_the_command_reports_three_models_side_by_side(
    home: Path, bank_table: pd.DataFrame
) -> None:
    bank_table.to_csv(home / "bank.csv", index=False)
    out = home / "metrics.json"
    args = ["train", "--table", str(home / "bank.csv"), "--target", "status", "--positive", "bad"]
    args += ["--time-col", "applied", "--join-platform", "--code-col", "credit_code"]
    args += ["--trials", "2", "--tune-seconds", "60", "--metrics-json", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    metrics = json.loads(out.read_text(encoding="utf-8"))
    models = metrics["join_platform"]["models"]
    assert list(models) == ["platform_only", "table_only", "combined"]
    n_platform = len(REGISTRY.names)
    assert models["table_only"]["n_features"] == 2
    assert models["platform_only"]["n_features"] <= n_platform
    assert models["combined"]["n_features"] == models["platform_only"]["n_features"] + 2
    assert metrics["auc"] == models["combined"]["auc"]
    assert all(0.5 < found["auc"] < 1.0 for found in models.values())
    assert "joined to the platform's point-in-time features" in result.stderr
    assert "platform_only" in result.stderr


def test_join_platform_without_a_code_column_is_refused(home: Path) -> None:
    args = ["train", "--table", str(home / "bank.csv"), "--target", "status", "--positive", "bad"]
    result = runner.invoke(app, [*args, "--time-col", "applied", "--join-platform"])
    assert result.exit_code != 0
    assert "--join-platform needs --code-col" in str(result.exception)


def test_platform_features_carry_the_registry_directions(
    small_store: Path, bank_table: pd.DataFrame
) -> None:
    """The gate checks the registry's directions, so the selection is constrained by them."""
    with store.connect(small_store, read_only=True) as con:
        tables = variants(bank_table, ROLES, "credit_code", con)
    spec = declared(prepare(tables["combined"], ROLES)).spec
    directions = dict(zip(spec.names, spec.monotone, strict=True))
    for feature in REGISTRY.features:
        if feature.name in directions:
            assert directions[feature.name] == feature.monotone, feature.name
    assert directions["bank_score"] == 0  # left to the WoE trend inferred in the selection
