"""The simulation's loan ledger: every loan granted, its outcome, and when it was reported.

A bank reports an outcome once the loan's 12-month window has closed, on the first round date
on or after it; `posted_on` records that date, so a reader can check nothing came early. Every
report carries the loan's monthly DPD history up to its observation (`simulation.delinquency`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from simulation.delinquency import HORIZON_MONTHS, history, observed_months


class Ledger:
    """Every loan granted, its realised outcome and the round date it was reported on."""

    def __init__(self) -> None:
        self.frame = pd.DataFrame()

    def add(self, loans: pd.DataFrame) -> None:
        """Record newly granted loans (not yet reported)."""
        self.frame = pd.concat([self.frame, loans.assign(posted_on=None)], ignore_index=True)

    def matured(self, bank: str, day: dt.date) -> pd.DataFrame:
        """The bank's unreported loans whose 12-month window closed by `day`."""
        if self.frame.empty:
            return self.frame
        due = (self.frame["bank"] == bank) & self.frame["posted_on"].isna()
        return self.frame[
            due & (pd.to_datetime(self.frame["observation_date"]) <= pd.Timestamp(day))
        ]

    def maturing(self, bank: str, day: dt.date) -> pd.DataFrame:
        """The bank's loans drawn by `day` whose 12-month window is still open on it."""
        if self.frame.empty:
            return self.frame
        drawn = pd.to_datetime(self.frame["application_date"]) <= pd.Timestamp(day)
        still_open = pd.to_datetime(self.frame["observation_date"]) > pd.Timestamp(day)
        return self.frame[(self.frame["bank"] == bank) & drawn & still_open]

    def mark_posted(self, index: pd.Index, day: dt.date) -> None:
        """Note that these loans' outcomes were reported on `day`."""
        self.frame.loc[index, "posted_on"] = day

    def reported(self, bank: str) -> pd.DataFrame:
        """The bank's loans reported so far."""
        if self.frame.empty:
            return self.frame
        return self.frame[(self.frame["bank"] == bank) & self.frame["posted_on"].notna()]


def _iso(value: Any) -> str:
    return pd.Timestamp(value).date().isoformat()


def interim_body(loans: pd.DataFrame, day: dt.date) -> list[dict[str, Any]]:
    """Reports of loans still maturing, as observed on `day` (a default only once it happened)."""
    by_then = pd.to_datetime(loans["default_date"]) <= pd.Timestamp(day)
    months = [observed_months(a, day) for a in loans["application_date"]]
    paths = [history(r, m) for r, m in zip(loans.to_dict("records"), months, strict=True)]
    seen = loans.assign(
        default_flag=loans["default_flag"].astype(bool) & by_then.to_numpy(),
        observation_date=day,
        dpd_history=pd.Series(paths, index=loans.index, dtype=object),
    )
    return outcome_body(seen)


def outcome_body(loans: pd.DataFrame) -> list[dict[str, Any]]:
    """Outcome reports as a bank sends them (ISO dates, no default date for a good loan); a
    loan without a `dpd_history` column reports its whole 12 months."""
    body = []
    for row in loans.to_dict("records"):
        path = row["dpd_history"] if "dpd_history" in row else history(row, HORIZON_MONTHS)
        item = {
            "loan_id": str(row["loan_id"]),
            "uscc": str(row["uscc"]),
            "application_date": _iso(row["application_date"]),
            "granted_amount_cny": float(row["amount_cny"]),
            "drawn_amount_cny": float(row["amount_cny"]),
            "default_flag": bool(row["default_flag"]),
            "max_dpd": max([*path, 90 if row["default_flag"] else 0]),
            "dpd_history": path,
            "observation_date": _iso(row["observation_date"]),
            "explore": bool(row["explore"]),
        }
        if row["default_flag"]:
            item["default_date"] = _iso(row["default_date"])
        body.append(item)
    return body
