"""Training sets: labels joined to point-in-time features as of each observation date.

Two labels (DESIGN.md "The model"):
- platform (cold start): an adverse public-credit event within 12 months after as_of: a new
  court-debtor or serious-dishonesty listing, an abnormal-operations listing, or a serious
  penalty. Labelled from the platform alone; observations whose 12 months have not passed
  by the store's last ingest are immature and left out.
- outcomes: a bank loan defaults (90+ days past due or written off) within 12 months of its
  start. Only loans whose 12 months have been observed count: immature loans are never goods,
  and their early defaults are left out too (keeping them would inflate the young cohort's
  bad rate and bias the out-of-time split).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from catalog.errors import InvalidInput
from catalog.store import Connection, scalar
from features.compute import compute

HORIZON_MONTHS = 12

ADVERSE_EVENTS = """
    SELECT uscc, publish_date AS event_date, ingest_date FROM court_debtors WHERE version = 1
    UNION ALL SELECT uscc, listed_date, ingest_date FROM serious_dishonesty WHERE version = 1
    UNION ALL SELECT uscc, listed_date, ingest_date FROM abnormal_operations WHERE version = 1
    UNION ALL SELECT uscc, decision_date, ingest_date FROM penalties
      WHERE version = 1 AND severity = 'serious'
"""


def store_end(con: Connection) -> dt.date:
    """The last day the store has data for (latest ingest date of a catalog record)."""
    return pd.Timestamp(scalar(con, "SELECT max(ingest_date) FROM tax_payments")).date()


def platform_pairs(
    con: Connection, as_of_dates: list[dt.date], per_date: int, seed: int
) -> pd.DataFrame:
    """A seeded sample of entities open on each date (founded before, not deregistered)."""
    rng = np.random.default_rng(seed)
    frames = []
    for day in as_of_dates:
        codes = [
            r[0]
            for r in con.execute(
                "SELECT DISTINCT uscc FROM entities WHERE founded_date <= ? AND ingest_date <= ? "
                "AND (deregistered_date IS NULL OR deregistered_date > ?) ORDER BY uscc",
                [day, day, day],
            ).fetchall()
        ]
        chosen: list[str] = (
            list(rng.choice(codes, size=min(per_date, len(codes)), replace=False)) if codes else []
        )
        frames.append(pd.DataFrame({"uscc": chosen, "as_of": pd.Timestamp(day)}))
    return pd.concat(frames, ignore_index=True)


def platform_labels(
    con: Connection, pairs: pd.DataFrame, known_by: dt.date | None = None
) -> pd.Series:
    """1 if an adverse public event happened in (as_of, as_of + 12 months], else 0.

    With `known_by`, only events the platform had ingested by that day count.
    """
    con.register("_label_pairs", pairs.reset_index(drop=True).assign(_row=np.arange(len(pairs))))
    known = "" if known_by is None else f"AND e.ingest_date <= DATE '{known_by.isoformat()}'"
    try:
        rows = con.execute(f"""
            SELECT p._row, CAST(count(e.uscc) > 0 AS INTEGER) AS label
            FROM _label_pairs p LEFT JOIN ({ADVERSE_EVENTS}) e ON e.uscc = p.uscc
              AND e.event_date > CAST(p.as_of AS DATE)
              AND e.event_date <= CAST(p.as_of AS DATE) + INTERVAL {HORIZON_MONTHS} MONTH {known}
            GROUP BY p._row ORDER BY p._row
        """).fetchall()
    finally:
        con.unregister("_label_pairs")
    return pd.Series([r[1] for r in rows], name="label", dtype="int64")


def platform_training_set(
    con: Connection,
    as_of_dates: list[dt.date],
    per_date: int,
    seed: int,
    end: dt.date | None = None,
) -> pd.DataFrame:
    """Cold-start rows: (uscc, as_of, label, features...) for mature observation dates.

    `end` is the last day whose data may be used (default: the store's end): observations
    must mature by then and labels count only events ingested by then (no look-ahead).
    """
    horizon_end = pd.Timestamp(end or store_end(con)) - pd.DateOffset(months=HORIZON_MONTHS)
    mature = [d for d in as_of_dates if pd.Timestamp(d) <= horizon_end]
    if not mature:
        raise InvalidInput("no observation date has 12 months of history after it in this store")
    pairs = platform_pairs(con, mature, per_date, seed)
    frame = compute(con, pairs)
    frame.insert(2, "label", platform_labels(con, pairs, end).to_numpy())
    return frame


MATURED_LOANS = f"""
    SELECT l.loan_id, l.bank_id, l.uscc, a.application_date AS as_of, l.start_date, l.amount_cny,
      CAST(o.default_flag AND o.default_date <= l.start_date + INTERVAL {HORIZON_MONTHS} MONTH
           AS INTEGER) AS label
    FROM loans l JOIN applications a USING (application_id)
    JOIN (SELECT * FROM loan_outcomes QUALIFY row_number() OVER
          (PARTITION BY loan_id ORDER BY observation_date DESC) = 1) o USING (loan_id)
    WHERE l.start_date + INTERVAL {HORIZON_MONTHS} MONTH <= o.observation_date
"""  # whole 12-month windows only: keeping early defaults of young loans would bias their cohort


def outcome_training_set(con: Connection, bank_id: str | None = None) -> pd.DataFrame:
    """Matured loans (of one bank, or all) with features as of each application date."""
    where = "WHERE bank_id = ?" if bank_id else ""
    loans = con.execute(
        f"SELECT * FROM ({MATURED_LOANS}) m {where} ORDER BY as_of, loan_id",
        [bank_id] if bank_id else [],
    ).df()
    if loans.empty:
        raise InvalidInput(f"no matured loan outcomes{' for ' + bank_id if bank_id else ''}")
    features = compute(con, loans[["uscc", "as_of"]])
    meta = loans[["loan_id", "bank_id", "label", "amount_cny", "start_date"]].reset_index(drop=True)
    return pd.concat([meta, features], axis=1)


def time_split(
    frame: pd.DataFrame, shares: tuple[float, float] = (0.6, 0.2)
) -> dict[str, pd.DataFrame]:
    """Out-of-time split by as_of: oldest `train`, then `valid` (early stopping, calibration), newest `test`."""
    order = frame.sort_values(["as_of", "uscc"], kind="stable").reset_index(drop=True)
    dates = order["as_of"]
    cut1, cut2 = dates.quantile(shares[0]), dates.quantile(shares[0] + shares[1])
    return {
        "train": order[dates <= cut1],
        "valid": order[(dates > cut1) & (dates <= cut2)],
        "test": order[dates > cut2],
    }
