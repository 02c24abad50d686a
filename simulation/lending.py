"""Lending in the simulation: applicant pools, a bank's grant policy, what a round earns.

Economics of one 12-month loan of amount A at rate r, funded at cost f: a good loan earns
A (r - f); a defaulted one loses A x LGD (recoveries netted in the LGD, interest forgone).
Expected profit uses the synthetic platform's true 12-month PD; realised profit uses the
seeded default draws. Everything here is pure except `open_entities`, which reads the store.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from catalog import uscc
from catalog.store import Connection
from models.limit import LEGAL_BARS
from models.policy import ProductPolicy
from training import metrics

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Economics:
    """Funding cost and loss given default shared by every bank (annual, shares of amount)."""

    funding_cost: float = 0.025
    lgd: float = 0.45

    def profit(self, amount: FloatArray, bad: FloatArray, rate: float) -> float:
        """Profit over 12 months; `bad` is a 0/1 outcome or a default probability per loan."""
        return float(np.sum(amount * ((1.0 - bad) * (rate - self.funding_cost) - bad * self.lgd)))


@dataclass(frozen=True)
class BankPolicy:
    """How one simulated bank lends, learns and promotes."""

    bank_id: str
    rate: float = 0.045  # annual lending rate
    pool_share: float = 0.5  # share of open entities asking for a pre-approval each round
    take_refer: bool = True  # an underwriter grants referred applications
    explore_share: float = 0.1  # share of lawful declines granted a small test loan
    explore_cap_cny: float = 50_000.0
    promotion: Literal["auto", "manual"] = "auto"
    product_policy: ProductPolicy | None = None  # its own product policy (None: the platform's)


def open_entities(con: Connection, day: dt.date) -> list[str]:
    """Valid, unambiguous credit codes of entities open on `day` and known to the platform."""
    rows = con.execute(
        """
        SELECT uscc FROM entities WHERE version = 1 GROUP BY uscc
        HAVING count(*) = 1 AND max(founded_date) <= ? AND max(ingest_date) <= ?
           AND (max(deregistered_date) IS NULL OR max(deregistered_date) > ?)
        ORDER BY uscc
    """,
        [day, day, day],
    ).fetchall()
    return [str(r[0]) for r in rows if uscc.is_valid(str(r[0]))]


def applicants(
    codes: Sequence[str], share: float, start: dt.date, days: int, rng: np.random.Generator
) -> pd.DataFrame:
    """A seeded pool: who asks, the day each would draw the loan, and the amount asked for."""
    n = min(len(codes), max(1, round(len(codes) * share)))
    chosen = np.sort(rng.choice(np.asarray(codes, dtype=object), size=n, replace=False))
    offsets = rng.integers(0, days, n)
    asked = np.exp(rng.normal(np.log(300_000.0), 1.0, n))
    return pd.DataFrame(
        {
            "uscc": chosen.astype(str),
            "application_date": [start + dt.timedelta(days=int(o)) for o in offsets],
            "requested_amount_cny": np.clip(np.round(asked, -4), 20_000.0, 5_000_000.0),
        }
    )


def approved(decision: npt.ArrayLike, take_refer: bool) -> BoolArray:
    """Whether a bank lends on each decision (approve; refer too if it underwrites them)."""
    wanted = ["approve", "refer"] if take_refer else ["approve"]
    return np.isin(np.asarray(decision, dtype=object), wanted)


def lawful(failed_gates: Sequence[Sequence[str]]) -> BoolArray:
    """Declines with no legal bar (a test loan may go to them)."""
    return np.array([not LEGAL_BARS.intersection(g) for g in failed_gates], dtype=bool)


def grants(answers: pd.DataFrame, policy: BankPolicy, rng: np.random.Generator) -> pd.DataFrame:
    """The bank's loans: amount min(limit, asked) when it lends, small test loans on declines.

    `answers` holds decision, limit_cny, failed_gates and requested_amount_cny per applicant.
    """
    lend = approved(answers["decision"], policy.take_refer)
    declined = answers["decision"].to_numpy() == "decline"
    test = declined & lawful(answers["failed_gates"].tolist())
    test &= rng.random(len(answers)) < policy.explore_share
    asked = answers["requested_amount_cny"].to_numpy(dtype=np.float64)
    amount = np.where(
        lend,
        np.minimum(answers["limit_cny"].to_numpy(dtype=np.float64), asked),
        np.where(test, np.minimum(asked, policy.explore_cap_cny), 0.0),
    )
    return pd.DataFrame({"granted": lend | test, "explore": test, "amount_cny": amount})


def _rate(y: npt.NDArray[Any], mask: BoolArray) -> float | None:
    return float(np.mean(y[mask])) if mask.any() else None


def safe_auc(y: npt.NDArray[Any], score: FloatArray) -> float | None:
    """AUC, or None when the rows hold only goods or only bads."""
    return metrics.auc(y, score) if 0 < int(np.sum(y)) < len(y) else None


@dataclass(frozen=True)
class Applicants:
    """One round's applicants: realised defaults (as if each had borrowed), true PD, loans granted."""

    y: npt.NDArray[Any]
    true_pd: FloatArray
    loans: BoolArray  # the loans the bank actually granted


@dataclass(frozen=True)
class ScorerView:
    """One scorer's view of the applicants: its score, PD (if any), and what the bank would lend."""

    score: FloatArray
    pd_: FloatArray | None
    lend: BoolArray
    amount: FloatArray


def scorer_metrics(
    applicants: Applicants, view: ScorerView, rate: float, economics: Economics
) -> dict[str, float | None]:
    """One scorer on one round's applicants: ranking, calibration, approvals, bad rate, profit."""
    y, true_pd, loans = applicants.y, applicants.true_pd, applicants.loans
    score, pd_, lend = view.score, view.pd_, view.lend
    lent = view.amount * lend
    return {
        "auc": safe_auc(y, score),
        "auc_loans": safe_auc(y[loans], score[loans]) if loans.any() else None,
        "ece": metrics.ece(y, pd_) if pd_ is not None and 0 < y.sum() < len(y) else None,
        "mean_pd_approved": float(np.mean(pd_[lend])) if pd_ is not None and lend.any() else None,
        "approval_rate": float(np.mean(lend)),
        "bad_rate": _rate(y, lend),
        "true_pd_approved": _rate(true_pd, lend),
        "amount_cny": float(lent.sum()),
        "expected_profit_cny": economics.profit(lent, true_pd, rate),
        "realised_profit_cny": economics.profit(lent, y.astype(np.float64), rate),
    }


def auc_gain_interval(
    y: npt.NDArray[Any], new: FloatArray, old: FloatArray, seed: int, draws: int = 200
) -> tuple[float, float] | None:
    """95% paired-bootstrap interval of AUC(new) - AUC(old) on the same rows."""
    rng = np.random.default_rng(seed)
    gains = []
    for _ in range(draws):
        pick = rng.integers(0, len(y), len(y))
        sample = y[pick]
        if 0 < sample.sum() < len(sample):
            gains.append(metrics.auc(sample, new[pick]) - metrics.auc(sample, old[pick]))
    if len(gains) < draws // 2:
        return None
    low, high = np.quantile(gains, [0.025, 0.975])
    return float(low), float(high)
