"""Realised performance by vintage as outcomes mature, and the decision mix: pure tables.

A vintage is the application quarter of a loan ("2024Q3"). Only matured loans reach these
tables (the caller's job: an immature loan is not a good). AUC needs goods and bads in a
vintage; with fewer than `MIN_BADS_FOR_AUC` bads it is left out rather than reported noisy.
"""

from __future__ import annotations

from typing import Any, Literal

import pandas as pd

from training import metrics

MIN_BADS_FOR_AUC = 5
DECISIONS = ("approve", "refer", "decline")
Period = Literal["week", "month"]


def vintage(dates: pd.Series) -> pd.Series:
    """The application quarter of each date, as "2024Q3"."""
    return pd.to_datetime(dates).dt.to_period("Q").astype(str)


def _auc(group: pd.DataFrame) -> float | None:
    bads = int(group["label"].sum())
    if bads < MIN_BADS_FOR_AUC or bads == len(group):
        return None
    return metrics.auc(group["label"].to_numpy(), group["pd"].to_numpy())


def _rates(group: pd.DataFrame) -> dict[str, Any]:
    bads = int(group["label"].sum())
    return {
        "loans": len(group),
        "bads": bads,
        "bad_rate": bads / len(group),
        "mean_pd": float(group["pd"].mean()),
    }


def by_vintage(loans: pd.DataFrame, trained_through: str | None = None) -> list[dict[str, Any]]:
    """Per vintage: loans, bads, bad rate, mean PD, AUC; vintages the training data reached flagged.

    `loans` holds application_date, label (1 = default) and pd.
    """
    frame = loans.assign(vintage=vintage(loans["application_date"]))
    last = None if trained_through is None else pd.Period(trained_through, freq="Q")
    return [
        {
            "vintage": str(name),
            **_rates(group),
            "auc": _auc(group),
            "in_training_period": last is not None and pd.Period(str(name), freq="Q") <= last,
        }
        for name, group in frame.groupby("vintage", sort=True)
    ]


def by_grade(loans: pd.DataFrame) -> list[dict[str, Any]]:
    """Per master-scale grade (best first): loans, bads, bad rate and mean PD.

    `loans` holds grade (the scale's index, 1 = best), grade_label, label and pd.
    """
    return [
        {"grade": str(group["grade_label"].iloc[0]), **_rates(group)}
        for _, group in loans.groupby("grade", sort=True)
    ]


def grade_by_vintage(loans: pd.DataFrame) -> list[dict[str, Any]]:
    """Bad rate per (vintage, grade): the long table behind the report's grid."""
    frame = loans.assign(vintage=vintage(loans["application_date"]))
    return [
        {"vintage": v, "grade": str(group["grade_label"].iloc[0]), **_rates(group)}
        for (v, _), group in frame.groupby(["vintage", "grade"], sort=True)
    ]


def period_start(moments: pd.Series, period: Period) -> pd.Series:
    """The first day of each moment's ISO week (Monday) or month, as YYYY-MM-DD."""
    days = pd.to_datetime(moments, utc=True).dt.tz_localize(None).dt.normalize()
    starts = (
        days - pd.to_timedelta(days.dt.day_of_week, unit="D")
        if period == "week"
        else (days.dt.to_period("M").dt.start_time)
    )
    return starts.dt.strftime("%Y-%m-%d")


def decision_mix(decisions: pd.DataFrame, period: Period) -> list[dict[str, Any]]:
    """Per period and model version: decisions, and the count and share of each outcome.

    `decisions` holds created_at, decision and model (name/version).
    """
    if decisions.empty:
        return []
    frame = decisions.assign(period=period_start(decisions["created_at"], period))
    rows = []
    for (start, model), group in frame.groupby(["period", "model"], sort=True):
        counts = group["decision"].value_counts()
        n = int(counts.sum())
        rows.append(
            {
                "period": start,
                "model": model,
                "decisions": n,
                **{d: int(counts.get(d, 0)) for d in DECISIONS},
                **{f"{d}_share": float(counts.get(d, 0)) / n for d in DECISIONS},
            }
        )
    return rows


LINK_KEYS = ("source", "model_version", "product", "policy_version", "decision")


def by_decision(loans: pd.DataFrame) -> list[dict[str, Any]]:
    """Per (source, model version, product, policy version, decision): loans, bads, bad rate,
    mean PD. `loans` holds those keys, label (1 = default) and pd; source says what the
    outcome was linked to (decision, offer or financing request)."""
    if loans.empty:
        return []
    return [
        dict(zip(LINK_KEYS, (str(k) for k in keys), strict=True)) | _rates(group)
        for keys, group in loans.groupby(list(LINK_KEYS), sort=True)
    ]
