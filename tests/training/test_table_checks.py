"""Checks on a bank's own table: columns excluded with a named warning, target values, encodings.

Tables are generated with a seed; each case changes one thing and expects its named warning or
its InvalidInput message. The CLI cases (stderr lines, nothing written) are in
tests/cli/test_table_registry_cli.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from catalog.errors import InvalidInput
from training.table import Roles, load_table, prepare

N = 300


def frame(seed: int = 3) -> pd.DataFrame:
    """Two informative numbers, a sector, a good/bad target; nothing the checks should drop."""
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=N), rng.normal(size=N)
    bad = rng.random(N) < 1.0 / (1.0 + np.exp(-(x1 - 0.5 * x2 - 1.0)))
    return pd.DataFrame(
        {
            "income": np.round(np.exp(x1 + 8.0), 2),
            "debt_ratio": np.round(x2, 3),
            "sector": rng.choice(["agri", "retail", "tech"], N),
            "status": np.where(bad, "bad", "good"),
        }
    )


def codes(table: pd.DataFrame, **named: str) -> dict[str, str]:
    """Column -> warning code of a prepared table."""
    prepared = prepare(table, Roles("status", "bad", **named))
    return {w.column: w.code for w in prepared.warnings}


def test_a_clean_table_has_no_warning() -> None:
    prepared = prepare(frame(), Roles("status", "bad"))
    assert prepared.warnings == ()
    assert prepared.spec.names == ("income", "debt_ratio", "sector")


@pytest.mark.parametrize(
    "column",
    [
        [f"C{i:05d}" for i in range(N)],  # text, one per row
        list(range(1000, 1000 + N)),  # a row counter
        list(np.sort(np.random.default_rng(1).choice(10**9, N, replace=False))),  # sorted numbers
    ],
    ids=["text", "counter", "sorted-numbers"],
)
def test_an_unnamed_identifier_is_excluded_with_a_warning(column: list[object]) -> None:
    table = frame().assign(customer_no=column)
    prepared = prepare(table, Roles("status", "bad"))
    assert "customer_no" not in prepared.spec.names
    [warning] = prepared.warnings
    assert (warning.code, warning.column) == ("id_like_column", "customer_no")
    assert "'customer_no'" in warning.message
    assert "--id-col" in warning.message


def test_a_continuous_amount_distinct_on_every_row_stays_a_feature() -> None:
    """Distinct per row is not enough: unsorted, spread-out or fractional numbers are features."""
    rng = np.random.default_rng(2)
    table = frame().assign(
        limit_cny=rng.choice(10**9, N, replace=False), rate=rng.random(N).round(9)
    )
    assert codes(table) == {}


def test_the_named_id_column_is_not_warned_about() -> None:
    table = frame().assign(customer_no=[f"C{i:05d}" for i in range(N)])
    assert codes(table, id_col="customer_no") == {}


@pytest.mark.parametrize(
    "dates",
    [
        pd.date_range("2021-01-01", periods=N, freq="D").strftime("%Y-%m-%d").tolist(),
        pd.date_range("2021-01-01", periods=N, freq="D").strftime("%Y/%m/%d %H:%M").tolist(),
        pd.date_range("2021-01-01", periods=N, freq="D").strftime("%Y年%m月%d日").tolist(),
        list(pd.date_range("2021-01-01", periods=N, freq="D")),  # a datetime column
    ],
    ids=["iso", "slash-time", "chinese", "datetime"],
)
def test_an_unnamed_date_column_is_excluded_with_a_warning(dates: list[object]) -> None:
    table = frame().assign(opened=dates)
    table.loc[::7, "opened"] = None  # gaps do not hide a date column
    assert codes(table) == {"opened": "date_like_column"}
    [warning] = prepare(table, Roles("status", "bad")).warnings
    assert "--time-col" in warning.message


def test_an_all_missing_column_is_dropped_with_a_warning() -> None:
    table = frame().assign(collateral=np.nan)
    prepared = prepare(table, Roles("status", "bad"))
    assert "collateral" not in prepared.X.columns
    assert codes(table) == {"collateral": "all_missing_column"}


def test_several_excluded_columns_are_each_named_in_table_order() -> None:
    table = frame().assign(
        empty=None, loan_id=[f"L{i}" for i in range(N)], booked=["2024-01-31"] * N
    )
    assert list(codes(table).items()) == [
        ("empty", "all_missing_column"),
        ("loan_id", "id_like_column"),
        ("booked", "date_like_column"),
    ]


def test_a_table_of_only_excluded_columns_is_invalid_input() -> None:
    table = frame()[["status"]].assign(loan_id=[f"L{i}" for i in range(N)], empty=np.nan)
    with pytest.raises(InvalidInput, match="no feature columns are left"):
        prepare(table, Roles("status", "bad"))


# --- target values ------------------------------------------------------------------------------


def test_extra_target_values_are_an_error_listing_them() -> None:
    table = frame()
    table.loc[:9, "status"] = "written_off"
    table.loc[10:14, "status"] = "unknown"
    message = "target 'status' has 3 values besides 'bad': 'good', 'unknown', 'written_off'"
    with pytest.raises(InvalidInput, match=message) as info:
        prepare(table, Roles("status", "bad"))
    assert "--negative" in info.value.message


def test_negative_names_the_good_value_and_any_other_value_is_an_error() -> None:
    table = frame()
    table.loc[:9, "status"] = "unknown"
    with pytest.raises(InvalidInput, match="other than 'bad' and 'good': 'unknown'"):
        prepare(table, Roles("status", "bad", negative="good"))
    clean = prepare(frame(), Roles("status", "bad", negative="good"))
    assert clean.y.sum() == (frame()["status"] == "bad").sum()


def test_a_negative_value_that_never_occurs_is_an_error() -> None:
    with pytest.raises(InvalidInput, match="negative value 'ok' never occurs"):
        prepare(frame(), Roles("status", "bad", negative="ok"))


def test_a_long_list_of_target_values_is_shortened() -> None:
    table = frame().assign(status=[f"v{i % 15}" for i in range(N)])
    with pytest.raises(InvalidInput, match="and 4 more") as info:
        prepare(table, Roles("status", "v0"))
    assert "v9" not in info.value.message.split("and 4 more")[1]


# --- reading ------------------------------------------------------------------------------------


def chinese_frame() -> pd.DataFrame:
    """A bank export with Chinese headers and values."""
    table = frame().rename(columns={"income": "营业收入", "status": "状态"})
    table["状态"] = np.where(table["状态"] == "bad", "违约", "正常")
    table["sector"] = table["sector"].map({"agri": "农业", "retail": "零售", "tech": "科技"})
    return table


@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "utf-8-sig", "utf-8"])
def test_chinese_exports_are_read_in_their_encoding(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "bank.csv"
    chinese_frame().to_csv(path, index=False, encoding=encoding)
    table = load_table(path)
    assert list(table.columns) == list(chinese_frame().columns)  # no BOM in the first header
    prepared = prepare(table, Roles("状态", "违约"))
    assert set(prepared.spec.categories["sector"]) == {"农业", "零售", "科技"}
    assert prepared.y.sum() == (chinese_frame()["状态"] == "违约").sum()


def test_bytes_in_no_encoding_tried_are_refused_naming_the_encodings(tmp_path: Path) -> None:
    path = tmp_path / "bank.csv"
    path.write_bytes(b"a,b\n" + bytes([0x81, 0x30, 0xFF, 0xFF]) * 10 + b",1\n")
    with pytest.raises(InvalidInput, match=r"\(UTF-8, UTF-8-SIG, GB18030\)") as info:
        load_table(path)
    assert "\n" not in info.value.message


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty: no header and no rows"),
        (b"\n\n", "is empty: no header and no rows"),
        (b"status,income\n", "has a header but no rows"),
    ],
    ids=["empty", "blank-lines", "header-only"],
)
def test_empty_and_header_only_files_say_so(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bank.csv"
    path.write_bytes(content)
    with pytest.raises(InvalidInput, match=message):
        load_table(path)


def test_a_header_only_parquet_file_says_so(tmp_path: Path) -> None:
    path = tmp_path / "bank.parquet"
    frame().head(0).to_parquet(path)
    with pytest.raises(InvalidInput, match="has a header but no rows"):
        load_table(path)
