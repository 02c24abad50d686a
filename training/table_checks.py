"""Checks on a bank's table before training: how it is read, which columns may be features.

Reading: a CSV is decoded as UTF-8, then UTF-8 with a byte-order mark, then GB18030 (a superset
of GBK, the usual encoding of Chinese bank exports); an empty or header-only file is refused.
Screening, only for columns the user did not name (target, time, id): a column with a distinct
value per row that looks like an identifier, a column of dates, and an all-missing column are
excluded, each with a named warning. The target must hold the positive value and exactly one
other value (or the one given with `--negative`); any other value is an error listing them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from catalog.errors import InvalidInput

ENCODINGS = ("utf-8", "utf-8-sig", "gb18030")
# A date (optionally with a time): 2024-03-31, 2024/3/31, 2024.03.31, 2024年3月31日, 20240331T...
DATE = re.compile(r"^\s*\d{4}([-/.年])\d{1,2}(\1|月)\d{1,2}日?([ T]\d{1,2}:\d{2}(:\d{2})?.*)?\s*$")
MAX_LISTED = 10  # unexpected target values listed in an error


@dataclass(frozen=True)
class ColumnWarning:
    """A column excluded from the features, with the stable code that says why."""

    code: str  # id_like_column, date_like_column, all_missing_column
    column: str
    message: str

    def to_dict(self) -> dict[str, str]:
        """JSON-ready."""
        return {"code": self.code, "column": self.column, "message": self.message}


def read_csv(path: Path) -> pd.DataFrame:
    """A CSV decoded as UTF-8, UTF-8-SIG or GB18030, in that order; not empty, not header-only."""
    for encoding in ENCODINGS:
        try:
            frame = pd.read_csv(path, encoding=encoding)
        except UnicodeDecodeError:
            continue
        except pd.errors.EmptyDataError:
            raise InvalidInput(f"table {path.name!r} is empty: no header and no rows") from None
        return frame
    tried = ", ".join(e.upper() for e in ENCODINGS)
    raise InvalidInput(f"table {path.name!r} is not text in any encoding tried ({tried})")


def check_not_empty(frame: pd.DataFrame, name: str) -> None:
    """A table with columns but no rows is refused with a message that says so."""
    if frame.shape[1] == 0:
        raise InvalidInput(f"table {name!r} is empty: no header and no rows")
    if frame.shape[0] == 0:
        raise InvalidInput(f"table {name!r} has a header but no rows")


def screen(frame: pd.DataFrame, features: list[str]) -> tuple[list[str], list[ColumnWarning]]:
    """The feature columns kept, and a warning for each one excluded (all-missing, date, id)."""
    kept, warnings = [], []
    for name in features:
        warning = _excluded(frame[name], name)
        if warning is None:
            kept.append(name)
        else:
            warnings.append(warning)
    return kept, warnings


def _excluded(values: pd.Series, name: str) -> ColumnWarning | None:
    """Why a column is not a feature, or None."""
    if values.isna().all():
        return ColumnWarning("all_missing_column", name, f"column {name!r} is all missing: dropped")
    if _is_dates(values):
        why = f"column {name!r} holds dates: excluded (name it with --time-col to split by it)"
        return ColumnWarning("date_like_column", name, why)
    if _is_identifier(values):
        why = f"column {name!r} has a distinct value per row, like an identifier: excluded"
        return ColumnWarning("id_like_column", name, why + " (name it with --id-col)")
    return None


def _is_dates(values: pd.Series) -> bool:
    """A datetime column, or a text column whose every present value is a date."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return True
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return False
    present = values.dropna()
    return bool(present.map(lambda v: isinstance(v, str) and DATE.match(v) is not None).all())


def _is_identifier(values: pd.Series) -> bool:
    """Every row distinct and either text, or whole numbers that count rows (dense or ordered).

    A continuous amount is often distinct on every row too; only whole numbers spanning about
    the row count, or sorted in file order, read as a row counter or customer number.
    """
    n = values.size
    if n < 2 or values.isna().any() or values.nunique() < n:
        return False
    if pd.api.types.is_bool_dtype(values):
        return False
    if not pd.api.types.is_numeric_dtype(values):
        return True
    numbers = values.to_numpy(dtype=np.float64)
    if not np.all(np.mod(numbers, 1.0) == 0.0):
        return False
    dense = numbers.max() - numbers.min() < 2 * n
    ordered = bool(np.all(np.diff(numbers) > 0) or np.all(np.diff(numbers) < 0))
    return bool(dense or ordered)


def check_target(labels: pd.Series, target: str, positive: str, negative: str | None) -> str:
    """The negative value: the one given, or the only value besides `positive`; else an error."""
    values = sorted(set(labels.dropna()))
    if positive not in values:
        raise InvalidInput(f"positive value {positive!r} never occurs in target {target!r}")
    if negative is not None and negative not in values:
        raise InvalidInput(f"negative value {negative!r} never occurs in target {target!r}")
    others = [v for v in values if v != positive and v != negative]
    if negative is not None and others:
        raise InvalidInput(
            f"target {target!r} has values other than {positive!r} and {negative!r}: "
            f"{_listed(others)}"
        )
    if negative is None and len(others) > 1:
        raise InvalidInput(
            f"target {target!r} has {len(others)} values besides {positive!r}: {_listed(others)}; "
            "name the negative one with --negative and map or drop the rest"
        )
    if negative is None and not others:
        raise InvalidInput(f"target {target!r} has only one class: every row is positive")
    return negative if negative is not None else others[0]


def _listed(values: list[str]) -> str:
    """At most MAX_LISTED values, each shortened to 40 characters."""
    shown = ", ".join(repr(v[:40]) for v in values[:MAX_LISTED])
    return shown + (f" and {len(values) - MAX_LISTED} more" if len(values) > MAX_LISTED else "")
