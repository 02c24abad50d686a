"""A bank's table joined to the platform's point-in-time features: three models side by side.

Each row's credit code (`--code-col`) and date (`--time-col`) become an (uscc, as_of) pair and
get the registry's features from `features.compute.compute`, the compiled point-in-time query the
snapshot and live requests use (records visible at as_of only). The same selection then runs
three times on the same rows and the same out-of-time split: the platform's features only, the
table's own columns only, and both. The combined model is the one the metrics JSON headlines
(and registers, with `--tenant`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import pandas as pd

from catalog.errors import InvalidInput
from catalog.store import Connection
from features.compute import compute
from features.definitions import REGISTRY
from training.table import Assessment, Prepared, Roles, assess, prepare
from training.tuning import Budget

VARIANTS = ("platform_only", "table_only", "combined")
REPORTED = ("auc", "ece", "auc_scorecard", "auc_logistic", "auc_lightgbm_default", "margin")


@dataclass(frozen=True, eq=False)
class Joined:
    """The combined table (platform features added), its preparation and assessment."""

    frame: pd.DataFrame
    prepared: Prepared
    assessment: Assessment
    side_by_side: dict[str, dict[str, Any]]


def platform_features(
    frame: pd.DataFrame, code_col: str, time_col: str, con: Connection
) -> pd.DataFrame:
    """Registry features as of each row's date for its credit code (NaN where either is missing)."""
    dates = pd.to_datetime(frame[time_col], errors="coerce", utc=True)
    codes = frame[code_col]
    present = codes.notna() & dates.notna()
    pairs = pd.DataFrame(
        {"uscc": codes[present].astype(str), "as_of": dates[present].dt.date}
    ).reset_index(drop=True)
    if pairs.empty:
        raise InvalidInput(f"no row has both a credit code in {code_col!r} and a date")
    features = compute(con, pairs).drop(columns=["uscc", "as_of"])
    features.index = frame.index[present.to_numpy()]
    return features.reindex(frame.index)


def join(
    frame: pd.DataFrame, roles: Roles, code_col: str, con: Connection
) -> tuple[pd.DataFrame, list[str]]:
    """The table with the platform's features added, and their names."""
    if roles.time_col is None:
        raise InvalidInput("--join-platform needs --time-col: features are as of each row's date")
    if code_col not in frame.columns:
        raise InvalidInput(f"code column {code_col!r} is not in the table")
    if code_col in {roles.target, roles.time_col, roles.id_col}:
        raise InvalidInput("the code column must differ from the target, time and id columns")
    features = platform_features(frame, code_col, roles.time_col, con)
    clash = sorted(set(features.columns) & set(frame.columns))
    if clash:
        raise InvalidInput(
            f"table columns share names with platform features: {', '.join(clash[:10])}"
        )
    return pd.concat([frame, features], axis=1), list(features.columns)


def variants(
    frame: pd.DataFrame, roles: Roles, code_col: str, con: Connection
) -> dict[str, pd.DataFrame]:
    """The three tables: platform features only, the table's own columns only, both."""
    joined, platform = join(frame, roles, code_col, con)
    named = [c for c in (roles.target, roles.time_col, roles.id_col) if c is not None]
    return {
        "platform_only": joined[named + platform],
        "table_only": frame.drop(columns=code_col),
        "combined": joined.drop(columns=code_col),
    }


def side_by_side(
    tables: dict[str, pd.DataFrame], roles: Roles, seed: int, budget: Budget
) -> Joined:
    """Select and test each variant on the same rows; the combined one in full."""
    report: dict[str, dict[str, Any]] = {}
    results: dict[str, tuple[Prepared, Assessment]] = {}
    for name in VARIANTS:
        prepared = declared(prepare(tables[name], roles))
        found = assess(prepared, seed, budget)
        results[name] = (prepared, found)
        report[name] = {k: found.metrics[k] for k in REPORTED}
        report[name] |= {"chosen": found.metrics["chosen"], "n_features": len(prepared.spec.names)}
    prepared, found = results["combined"]
    return Joined(tables["combined"], prepared, found, report)


def declared(prepared: Prepared) -> Prepared:
    """Platform features get the registry's monotone directions (the gate checks those)."""
    directions = {f.name: f.monotone for f in REGISTRY.features}
    spec = prepared.spec
    monotone = tuple(
        directions.get(name, d) for name, d in zip(spec.names, spec.monotone, strict=True)
    )
    return replace(prepared, spec=replace(spec, monotone=monotone))


def summary_lines(report: dict[str, dict[str, Any]]) -> list[str]:
    """One console line per variant: features, chosen model, AUC and the best baseline's."""
    lines = []
    for name, found in report.items():
        best = max(found[k] for k in ("auc_scorecard", "auc_logistic", "auc_lightgbm_default"))
        lines.append(
            f"  {name:<13} {found['n_features']:>3} features, {', '.join(found['chosen'])}: "
            f"AUC {found['auc']:.4f} (best baseline {best:.4f}), ECE {found['ece']:.4f}"
        )
    return lines
