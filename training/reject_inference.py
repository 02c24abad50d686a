"""Reject inference: what the applicants a bank declined would have done, for training and the gate.

A bank observes outcomes only of the loans it granted, so a model of those loans never sees the
applicants it declined. Three treatments (`precredit retrain --reject-inference`):

- `none`: the bank's loans only;
- `fuzzy` (classical fuzzy augmentation): each declined applicant joins the training split twice,
  as a default weighted p and as a good weighted 1 - p, where p is the serving model's PD
  recalibrated on the bank's own training loans (a logistic fit on its log-odds);
- `platform`: the same augmentation, but p also uses the platform's **label proxy**: whether the
  declined applicant had an adverse public-record event (court-debtor, serious-dishonesty or
  abnormal-operations listing, serious penalty) in the 12 months after the decision, among the
  records ingested by the retraining date (`training.dataset.platform_labels`). The link from
  (log-odds, proxy) to default is fitted on the bank's own training loans, whose proxy is known
  the same way.

Known bias of the proxy: public events are neither necessary nor sufficient for a loan default
(many defaulters are never listed; a penalty need not stop repayment); its link to default is
fitted on approved loans and assumed to hold for declines; and a declined firm, having got no
credit, may fare worse than it would have with the loan (the events measure the world without
the loan). Weighting by a fitted link, not taking the proxy as the label, keeps its rate right.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from catalog.errors import InvalidInput
from catalog.store import Connection
from models.pd_model import WEIGHT_COLUMN
from training.dataset import HORIZON_MONTHS, platform_labels

Method = Literal["none", "fuzzy", "platform"]
METHODS: tuple[Method, ...] = ("none", "fuzzy", "platform")
PD_CLIP = 1e-4
INFERRED = "inferred"  # marks reject-inferred rows in a training split


def own_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The loans of a split, reject-inferred rows left out."""
    if INFERRED not in frame:
        return frame
    kept: pd.DataFrame = frame[~frame[INFERRED].fillna(False).astype(bool)]
    return kept


def proxy_labels(con: Connection, rows: pd.DataFrame, known_by: dt.date) -> np.ndarray:
    """1 if an adverse public event happened in (as_of, as_of + 12 months], ingested by `known_by`.

    Point in time: every row's window must have closed by `known_by` (else InvalidInput), and
    neither an event before the decision nor one ingested after `known_by` counts.
    """
    ends = pd.to_datetime(rows["as_of"]) + pd.DateOffset(months=HORIZON_MONTHS)
    if len(rows) and ends.max() > pd.Timestamp(known_by):
        raise InvalidInput("a label proxy's 12-month window has not closed by the retraining date")
    pairs = rows[["uscc", "as_of"]].reset_index(drop=True)
    return platform_labels(con, pairs, known_by).to_numpy(dtype=np.int64)


def _design(method: Method, pd_serving: np.ndarray, proxy: np.ndarray) -> np.ndarray:
    clipped = np.clip(np.asarray(pd_serving, dtype=np.float64), PD_CLIP, 1 - PD_CLIP)
    log_odds = np.log(clipped / (1 - clipped))
    if method == "platform":
        return np.column_stack([log_odds, np.asarray(proxy, dtype=np.float64)])
    return log_odds.reshape(-1, 1)


def soft_labels(
    method: Method, accepted: pd.DataFrame, rejects: pd.DataFrame, seed: int = 42
) -> np.ndarray:
    """Each reject's probability of default, from a link fitted on the accepted loans.

    Both frames hold `pd_serving` (the serving model's PD) and `proxy`; `accepted` also `label`.
    """
    if method == "none":
        raise InvalidInput("no soft labels without a reject-inference method")
    y = accepted["label"].to_numpy(dtype=np.int64)
    if not 0 < y.sum() < len(y):
        raise InvalidInput("reject inference needs defaults and goods among the accepted loans")
    link = LogisticRegression(C=1e4, max_iter=1_000, random_state=seed)
    link.fit(_design(method, accepted["pd_serving"].to_numpy(), accepted["proxy"].to_numpy()), y)
    design = _design(method, rejects["pd_serving"].to_numpy(), rejects["proxy"].to_numpy())
    return np.asarray(link.predict_proba(design)[:, 1], dtype=np.float64)


def augment(rejects: pd.DataFrame, p: np.ndarray, weight: float = 1.0) -> pd.DataFrame:
    """Fuzzy augmentation: each reject as a default weighted `weight` p and a good `weight` (1-p)."""
    p = np.asarray(p, dtype=np.float64)
    bads = rejects.assign(label=1, **{WEIGHT_COLUMN: weight * p})
    goods = rejects.assign(label=0, **{WEIGHT_COLUMN: weight * (1.0 - p)})
    return pd.concat([bads, goods], ignore_index=True)


def drawn(rejects: pd.DataFrame, p: np.ndarray, seed: int) -> pd.DataFrame:
    """Rejects with a 0/1 label drawn from p (seeded): a population the gate can score."""
    rng = np.random.default_rng(seed)
    return rejects.assign(label=(rng.random(len(rejects)) < np.asarray(p)).astype(np.int64))


def without_loans(declines: pd.DataFrame, loans: pd.DataFrame) -> pd.DataFrame:
    """Declines whose applicant got no loan of the bank within the following 12 months.

    A declined applicant who got a (test) loan has a real outcome: it is not inferred.
    """
    starts = loans[["uscc", "application_date"]].assign(
        application_date=pd.to_datetime(loans["application_date"])
    )
    merged = declines.reset_index().merge(starts, on="uscc", how="left")
    day = pd.to_datetime(merged["as_of"])
    lent = (merged["application_date"] >= day) & (
        merged["application_date"] < day + pd.DateOffset(months=HORIZON_MONTHS)
    )
    taken = set(merged.loc[lent, "index"])
    kept: pd.DataFrame = declines[~declines.index.isin(taken)]
    return kept.reset_index(drop=True)


def proxy_counts(loans: pd.DataFrame) -> dict[int, tuple[int, int]]:
    """Per proxy value (0, 1): the loans' defaults and count."""
    y, proxy = loans["label"].to_numpy(), loans["proxy"].to_numpy()
    return {v: (int(y[proxy == v].sum()), int((proxy == v).sum())) for v in (0, 1)}


def rates_from(counts: dict[int, tuple[int, int]], rejects: pd.DataFrame) -> np.ndarray:
    """Each reject's default probability: the rate at its proxy value (Jeffreys posterior mean,
    so an empty cell is not 0 or 1)."""
    rates = {v: (bad + 0.5) / (n + 1.0) for v, (bad, n) in counts.items()}
    return np.array([rates[int(v)] for v in rejects["proxy"]], dtype=np.float64)


def proxy_rates(accepted: pd.DataFrame, rejects: pd.DataFrame) -> np.ndarray:
    """Each reject's default probability from its proxy alone: the accepted loans' default rate
    at the same proxy value (Jeffreys posterior mean, so an empty cell is not 0 or 1).

    The gate labels rejects this way, not by a model's score, so no model is judged on labels
    drawn from its own (or its rival's) predictions.
    """
    return rates_from(proxy_counts(accepted), rejects)
