"""Train the PD model on a bank's own feature table: one row per observation, one target column.

`train_table` = `load_table` -> `prepare` -> `evaluate`. With a time column the split is out of
time, cut at date quantiles like `training.dataset.time_split` (oldest 60% fit, next 20% early
stopping and calibrator choice, newest 20% test); without one, stratified 5-fold CV reports each
metric's mean and sample std over folds. The model is `training.selection`'s choice, made on the fit and valid rows only (tuned
monotone LightGBM, WoE scorecard or their blend); the WoE scorecard, a logistic regression and
default LightGBM fitted on the same rows are scored on the same test rows, and `verdict` says
in words whether a baseline beats the chosen model.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.model_selection import StratifiedKFold, train_test_split

from catalog.errors import InvalidInput
from models.pd_model import FeatureSpec
from training import comparison
from training.selection import SelectedModel
from training.table_checks import ColumnWarning, check_not_empty, check_target, read_csv, screen
from training.table_model import codes
from training.tuning import Budget, Labelled

MIN_ROWS, MIN_PER_CLASS, FOLDS = 50, 10, 5
SHARES, PART_NAMES = (0.6, 0.2), ("fit", "valid", "test")
NUMBERS = (
    "auc",
    "ks",
    "gini",
    "brier",
    "ece",
    "auc_scorecard",
    "auc_logistic",
    "auc_lightgbm_default",
)
FORBIDDEN = '",:[]{}'  # LightGBM refuses JSON punctuation in feature names

Labels = npt.NDArray[np.int64]
Rows = npt.NDArray[np.intp]
Parts = tuple[Rows, Rows, Rows]  # fit, valid, test


@dataclass(frozen=True, eq=False)
class Prepared:
    """A bank table as model inputs: encoded features, 0/1 target, dates, rows dropped and why."""

    X: pd.DataFrame
    y: Labels
    time: pd.Series | None
    spec: FeatureSpec
    dropped: dict[str, int]
    warnings: tuple[ColumnWarning, ...] = ()
    source_rows: Rows | None = None  # positions in the table as read of the rows kept


def load_table(path: Path) -> pd.DataFrame:
    """Read a .csv or .parquet table; a missing, unreadable or other file is InvalidInput."""
    suffix = path.suffix.lower()
    if suffix not in {".csv", ".parquet"}:
        raise InvalidInput(f"table {path.name!r} must be a .csv or .parquet file")
    if not path.is_file():
        raise InvalidInput(f"table {path.name!r} not found")
    try:
        frame = read_csv(path) if suffix == ".csv" else pd.read_parquet(path)
    except (OSError, ValueError) as exc:  # parser and Arrow errors; their text may quote the file
        kind = type(exc).__name__
        raise InvalidInput(f"cannot read table {path.name!r} as {suffix[1:]} ({kind})") from None
    check_not_empty(frame, path.name)
    return frame


@dataclass(frozen=True)
class Roles:
    """The columns the user names: label, its default value (and good value), date, identifier."""

    target: str
    positive: str
    time_col: str | None = None  # date column for an out-of-time split
    id_col: str | None = None  # identifier column (not a feature)
    negative: str | None = None  # the target value meaning good (default: the only other one)


def prepare(frame: pd.DataFrame, roles: Roles) -> Prepared:
    """Validate and encode a table: y = 1 where str(target) == positive, 0 where the negative;
    unnamed columns that are ids, dates or all missing are excluded with a warning."""
    target, positive, time_col, id_col = roles.target, roles.positive, roles.time_col, roles.id_col
    _check_columns(frame, target, time_col, id_col)
    frame = frame.reset_index(drop=True)  # row numbers in messages are positions
    labels = _labels(frame[target])
    check_target(labels, target, positive, roles.negative)
    time = None if time_col is None else _parse_time(frame[time_col], time_col)
    keep = labels.notna() & (True if time is None else time.notna())
    dropped = {"missing_target": int(labels.isna().sum())}
    dropped["missing_time"] = int((~keep).sum()) - dropped["missing_target"]
    y = np.asarray(labels[keep] == positive, dtype=np.int64)
    _check_counts(y, target, sum(dropped.values()))
    unnamed = [c for c in frame.columns if c not in {target, time_col, id_col}]
    columns, warned = screen(frame, unnamed)
    if not columns:
        raise InvalidInput("no feature columns are left after excluding ids, dates and empties")
    encoded, spec = _encode(frame.loc[keep, columns].reset_index(drop=True))
    kept_time = None if time is None else time[keep].reset_index(drop=True)
    source = np.flatnonzero(keep.to_numpy())
    return Prepared(encoded, y, kept_time, spec, dropped, tuple(warned), source)


def _check_columns(frame: pd.DataFrame, target: str, time: str | None, id_: str | None) -> None:
    """Named columns exist and differ; at least one feature column is left."""
    named = {"target": target, "time": time, "id": id_}
    for role, name in named.items():
        if name is not None and name not in frame.columns:
            raise InvalidInput(f"{role} column {name!r} is not in the table")
    given = [name for name in named.values() if name is not None]
    if len(set(given)) < len(given):
        raise InvalidInput("target, time and id columns must be different columns")
    if frame.shape[1] <= len(given):
        raise InvalidInput("the table has no feature columns besides target, time and id")


def _text(value: Any) -> str:
    """A value as text; integral floats drop '.0' (a 0/1 column with gaps is read as float)."""
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _labels(values: pd.Series) -> pd.Series:
    """Target values as text; missing or blank is NaN."""
    text = values.map(_text, na_action="ignore")
    return text.where(text.str.strip() != "")


def _parse_time(values: pd.Series, name: str) -> pd.Series:
    """The time column as datetimes (NaT where missing); any unparseable value is InvalidInput."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return values
    text = values.map(_text, na_action="ignore")
    with warnings.catch_warnings():  # "could not infer format": the result is checked below
        warnings.simplefilter("ignore", UserWarning)
        parsed = pd.to_datetime(text, errors="coerce", utc=True)  # UTC: mixed offsets still order
    bad = parsed.isna() & values.notna()
    if bad.any():
        where = f"{int(bad.sum())} values, first at row {int(bad.to_numpy().argmax())}"
        raise InvalidInput(f"time column {name!r} is not parseable as dates ({where})")
    return parsed


def _check_counts(y: Labels, target: str, n_dropped: int) -> None:
    """Enough rows, and enough of each class, to train and evaluate."""
    positives = int(y.sum())
    if positives == y.size:
        raise InvalidInput(f"target {target!r} has only one class: every row is positive")
    if y.size < MIN_ROWS:
        why = f"{n_dropped} dropped for a missing target or time"
        raise InvalidInput(f"only {y.size} usable rows ({why}); need at least {MIN_ROWS}")
    for kind, count in (("positive", positives), ("negative", y.size - positives)):
        if count < MIN_PER_CLASS:
            raise InvalidInput(f"only {count} {kind} rows; need at least {MIN_PER_CLASS}")


def _encode(features: pd.DataFrame) -> tuple[pd.DataFrame, FeatureSpec]:
    """Booleans -> 0/1, numbers -> float (inf -> NaN), other columns -> sorted category codes."""
    columns: dict[str, pd.Series] = {}
    categories: dict[str, tuple[str, ...]] = {}
    for label, values in features.items():
        name = str(label)
        if set(name) & set(FORBIDDEN):
            raise InvalidInput(f"column name {name!r} has one of {FORBIDDEN} (LightGBM refuses)")
        if _is_boolean(values) or pd.api.types.is_numeric_dtype(values):
            columns[name] = values.astype(np.float64).replace([np.inf, -np.inf], np.nan)
        else:
            categories[name] = tuple(sorted(values.dropna().map(str).unique()))
            columns[name] = codes(values, categories[name])
    names = tuple(columns)
    spec = FeatureSpec(names, (0,) * len(names), tuple(categories), {}, categories)
    return pd.DataFrame(columns), spec


def _is_boolean(values: pd.Series) -> bool:
    """A bool column, or an object column of booleans and gaps (CSV reads a bool with gaps so)."""
    if pd.api.types.is_bool_dtype(values.dtype):
        return True
    present = values.dropna()
    return present.size > 0 and all(isinstance(v, bool | np.bool_) for v in present)


def time_parts(time: pd.Series) -> Parts:
    """Row positions of fit (oldest 60%), valid (next 20%), test (newest 20%), cut by dates."""
    cut1, cut2 = time.quantile(SHARES[0]), time.quantile(SHARES[0] + SHARES[1])
    middle = (time > cut1) & (time <= cut2)
    return np.flatnonzero(time <= cut1), np.flatnonzero(middle), np.flatnonzero(time > cut2)


def cv_parts(y: Labels, seed: int) -> list[Parts]:
    """Stratified 5-fold parts; each fold's training rows split 80/20, stratified: fit, valid."""
    parts = []
    folds = StratifiedKFold(FOLDS, shuffle=True, random_state=seed)
    for train, test in folds.split(np.zeros(y.size), y):
        fit, valid = train_test_split(train, test_size=0.2, stratify=y[train], random_state=seed)
        parts.append((np.sort(fit), np.sort(valid), test))
    return parts


def _score(
    prepared: Prepared, parts: Parts, seed: int, budget: Budget | None
) -> tuple[dict[str, float], dict[str, Any]]:
    """Select on the fit and valid rows (never the test rows); test metrics and the choice."""
    seen = np.sort(np.concatenate(parts[:2]))
    data = Labelled(prepared.X, prepared.y, prepared.spec)
    out = comparison.score_split(data, (seen, parts[2]), prepared.time, budget, seed)
    numbers = {key: float(out[key]) for key in NUMBERS}
    info = {"model": out["model"], "ece_ci95": out["ece_ci95"], "_model": out["_model"]}
    return numbers, info | {"_test": parts[2]}


def _out_of_time(
    prepared: Prepared, time: pd.Series, seed: int, budget: Budget | None
) -> dict[str, Any]:
    """Test metrics of the newest 20%; every part needs both classes."""
    parts = time_parts(time)
    for name, rows in zip(PART_NAMES, parts, strict=True):
        if np.unique(prepared.y[rows]).size < 2:
            raise InvalidInput(
                f"the out-of-time {name} part ({rows.size} rows) lacks a class; "
                "add rows or dates, or drop the time column"
            )
    scores, info = _score(prepared, parts, seed, budget)
    sizes = {f"n_{name}": rows.size for name, rows in zip(PART_NAMES, parts, strict=True)}
    model = info["model"]
    choice = {"calibration": [model["calibration"]], "chosen": [model["chosen"]]}
    return scores | sizes | choice | {"split": "out_of_time", "models": [model]} | info


def _cross_validated(prepared: Prepared, seed: int, budget: Budget | None) -> dict[str, Any]:
    """Mean and sample standard deviation (`<metric>_std`) of each metric over 5 folds."""
    folds = [_score(prepared, parts, seed, budget) for parts in cv_parts(prepared.y, seed)]
    models = [info["model"] for _, info in folds]
    out: dict[str, Any] = {
        "_model": folds[0][1]["_model"],  # fold 1's model is the one registered (its test rows)
        "_test": folds[0][1]["_test"],
        "split": "cv5",
        "calibration": [model["calibration"] for model in models],
        "chosen": [model["chosen"] for model in models],
        "models": models,
        "ece_ci95": [info["ece_ci95"] for _, info in folds],
    }
    for key in NUMBERS:
        values = np.array([scores[key] for scores, _ in folds])
        out[key], out[f"{key}_std"] = float(values.mean()), float(values.std(ddof=1))
    return out


def verdict(out: dict[str, Any]) -> dict[str, Any]:
    """The best baseline on the same test rows, precredit's margin over it, and in words."""
    best = max(comparison.BASELINES, key=lambda name: out[f"auc_{name}"])
    margin = out["auc"] - out[f"auc_{best}"]
    if margin >= 0:
        words = f"precredit (AUC {out['auc']:.4f}) beats every baseline; best is {best} "
        words += f"(AUC {out[f'auc_{best}']:.4f}), margin {margin:+.4f}"
    else:
        words = f"WARNING: baseline {best} (AUC {out[f'auc_{best}']:.4f}) beats precredit "
        words += f"(AUC {out['auc']:.4f}) on the same test rows, margin {margin:+.4f}"
    return {
        "best_baseline": best,
        "margin": margin,
        "beats_baselines": margin >= 0,
        "verdict": words,
    }


@dataclass(frozen=True, eq=False)
class Assessment:
    """The metrics JSON, and the selected model to register with the test rows that judged it.

    Out of time the model is the one selected on the fit and valid rows and tested on the
    newest 20%; with cross-validation it is fold 1's model and fold 1's test rows.
    """

    metrics: dict[str, Any]
    model: SelectedModel
    test_rows: Rows


def assess(prepared: Prepared, seed: int = 42, budget: Budget | None = None) -> Assessment:
    """Metrics out of time when the table has a time column, else stratified 5-fold CV."""
    time, y, spec = prepared.time, prepared.y, prepared.spec
    if time is None:
        out = _cross_validated(prepared, seed, budget)
    else:
        out = _out_of_time(prepared, time, seed, budget)
    model, test = out.pop("_model"), out.pop("_test")
    counts = {"n_rows": int(y.size), "n_positive": int(y.sum()), "positive_rate": float(y.mean())}
    inputs = {"n_features": len(spec.names), "categorical": list(spec.categorical), "seed": seed}
    notes = {"warnings": [w.to_dict() for w in prepared.warnings]}
    metrics = out | verdict(out) | counts | inputs | {"dropped_rows": dict(prepared.dropped)}
    return Assessment(metrics | notes, model, test)


def evaluate(prepared: Prepared, seed: int = 42, budget: Budget | None = None) -> dict[str, Any]:
    """The metrics JSON of `assess`."""
    return assess(prepared, seed, budget).metrics


@dataclass(frozen=True)
class TableSpec:
    """A bank's own table: its file and the columns the user names."""

    path: Path
    roles: Roles


def read_prepared(spec: TableSpec) -> tuple[pd.DataFrame, Prepared]:
    """The table as read, and prepared for training (checks, warnings, encoding)."""
    frame = load_table(spec.path)
    return frame, prepare(frame, spec.roles)


def fit_table(spec: TableSpec, seed: int = 42, budget: Budget | None = None) -> Assessment:
    """Read a bank's table, select and test the PD model on it: metrics JSON and the model."""
    _, prepared = read_prepared(spec)
    found = assess(prepared, seed, budget)
    roles = spec.roles
    about = {"table": spec.path.name, "target": roles.target, "positive": roles.positive}
    return Assessment(found.metrics | about, found.model, found.test_rows)


def train_table(spec: TableSpec, seed: int = 42, budget: Budget | None = None) -> dict[str, Any]:
    """Read a bank's table, select and test the PD model on it, return the metrics JSON."""
    return fit_table(spec, seed, budget).metrics
