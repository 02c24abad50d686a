"""One bank's round in the simulation: the API's answers and two baselines on the same rows.

The served model (what the API answered), the cold-start platform model and the incumbent
tax-multiplier rule each decide on the round's whole applicant pool; every applicant's outcome
is realised as if it had borrowed, so the three are compared on identical rows. The bank then
lends by the served answers (and a few test loans), and those loans feed the loop.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from mlflow import MlflowClient

from models.limit import decide
from models.policy import ProductPolicy
from models.preapproval import PreapprovalModel
from serving.config import Settings
from serving.responses import Job
from simulation.api import SimulationError
from simulation.lending import (
    Applicants,
    BankPolicy,
    Economics,
    ScorerView,
    approved,
    auc_gain_interval,
    grants,
    safe_auc,
    scorer_metrics,
)
from simulation.records import (
    GateCheck,
    Portfolio,
    RetrainResult,
    RetrainSummary,
    ScoredRound,
    Scores,
    ServingModel,
)
from training import baselines, tracking

LEDGER_COLUMNS = ["bank", "round", "loan_id", "uscc", "application_date", "amount_cny", "explore",
                  "decision", "pd_served", "default_flag", "default_date", "max_dpd",
                  "observation_date", "true_pd"]  # fmt: skip


@dataclass(frozen=True)
class RoundInput:
    """One bank's round: its pool, the pool's snapshot features and realised outcomes (aligned)."""

    bank: BankPolicy
    day: dt.date
    index: int
    pool: pd.DataFrame  # uscc, application_date, requested_amount_cny
    features: pd.DataFrame  # the snapshot rows the API scored, in pool order
    realised: pd.DataFrame  # synthetic.outcomes.realise of the pool, in pool order


@dataclass(frozen=True)
class Scored:
    """The round's scores and the loans the bank granted, with their outcomes."""

    record: ScoredRound
    loans: pd.DataFrame


def served_frame(answers: list[dict[str, Any] | None]) -> pd.DataFrame:
    """The API's answers as columns; every pool member must have been answered."""
    if any(a is None for a in answers):
        raise SimulationError("the API refused a pre-approval for an entity of the snapshot")
    rows = [a for a in answers if a is not None]
    return pd.DataFrame(
        {
            "decision": [a["decision"] for a in rows],
            "limit_cny": [float(a["limit_cny"]) for a in rows],
            "pd": [float(a["pd"]) for a in rows],
            "failed_gates": [list(a["failed_gates"]) for a in rows],
        }
    )


def served_model(answers: list[dict[str, Any] | None]) -> tuple[ServingModel, str]:
    """The one model version that answered the whole round, and the snapshot it read."""
    seen = {
        (a["model"]["name"], a["model"]["version"], a["model"]["fingerprint"], a["snapshot_as_of"])
        for a in answers
        if a is not None
    }
    if len(seen) != 1:
        raise SimulationError(f"one round was answered by {len(seen)} model versions or snapshots")
    name, version, fingerprint, as_of = seen.pop()
    return ServingModel(name=name, version=version, fingerprint=fingerprint), str(as_of)


def cold_frame(
    model: PreapprovalModel, features: pd.DataFrame, policy: ProductPolicy | None = None
) -> pd.DataFrame:
    """The cold-start model's decision, limit and PD (under the bank's policy if it has one,
    else the model's), without reasons."""
    pd_ = model.predict_proba(features)
    limits = decide(policy or model.policy_, features, pd_)
    return pd.DataFrame({"decision": limits.decision, "limit_cny": limits.limit_cny, "pd": pd_})


def _floats(values: Any) -> np.ndarray:
    return np.asarray(values, dtype=np.float64)


def _scorers(
    data: RoundInput,
    served: pd.DataFrame,
    cold: pd.DataFrame,
    granted: pd.DataFrame,
    economics: Economics,
) -> dict[str, Scores]:
    """Each scorer's ranking score, PD (none for the rule), lending decision and limit."""
    rule = baselines.incumbent_rule(data.features)
    take_refer = data.bank.take_refer
    views = {
        "served": (
            served["pd"],
            served["pd"],
            approved(served["decision"], take_refer),
            served["limit_cny"],
        ),
        "cold_start": (
            cold["pd"],
            cold["pd"],
            approved(cold["decision"], take_refer),
            cold["limit_cny"],
        ),
        "rule": (
            rule["rule_score"],
            None,
            rule["approved"].to_numpy(dtype=bool),
            rule["limit_cny"],
        ),
    }
    y = data.realised["default_flag"].to_numpy(dtype=np.int64)
    true_pd = np.nan_to_num(_floats(data.realised["true_pd"]))
    asked = _floats(data.pool["requested_amount_cny"])
    loans = granted["granted"].to_numpy(dtype=bool)
    applicants = Applicants(y, true_pd, loans)
    return {
        name: scorer_metrics(
            applicants,
            ScorerView(
                _floats(score),
                None if pd_ is None else _floats(pd_),
                lend,
                np.minimum(_floats(limit), asked),
            ),
            data.bank.rate,
            economics,
        )
        for name, (score, pd_, lend, limit) in views.items()
    }


def _ceiling(data: RoundInput) -> float | None:
    """AUC of the applicants' true PD against their realised defaults: no model beats it on average."""
    y = data.realised["default_flag"].to_numpy(dtype=np.int64)
    return safe_auc(y, np.nan_to_num(_floats(data.realised["true_pd"])))


def _portfolio(data: RoundInput, granted: pd.DataFrame, economics: Economics) -> Portfolio:
    """What the bank actually lent this round (test loans included)."""
    lent = granted["granted"].to_numpy()
    amount = granted["amount_cny"].to_numpy(dtype=np.float64)[lent]
    y = data.realised["default_flag"].to_numpy(dtype=np.float64)[lent]
    true_pd = np.nan_to_num(data.realised["true_pd"].to_numpy(dtype=np.float64))[lent]
    return Portfolio(
        n=int(lent.sum()),
        test_loans=int(granted["explore"].sum()),
        amount_cny=float(amount.sum()),
        bad_rate=float(y.mean()) if len(y) else None,
        expected_profit_cny=economics.profit(amount, true_pd, data.bank.rate),
        realised_profit_cny=economics.profit(amount, y, data.bank.rate),
    )


def _gain(data: RoundInput, served: pd.DataFrame, cold: pd.DataFrame) -> list[float] | None:
    y = data.realised["default_flag"].to_numpy(dtype=np.int64)
    interval = auc_gain_interval(
        y,
        served["pd"].to_numpy(dtype=np.float64),
        cold["pd"].to_numpy(dtype=np.float64),
        seed=data.index,
    )
    return None if interval is None else [interval[0], interval[1]]


def _ledger(data: RoundInput, served: pd.DataFrame, granted: pd.DataFrame) -> pd.DataFrame:
    lent = granted["granted"].to_numpy()
    loans = data.realised.assign(
        bank=data.bank.bank_id,
        round=data.index + 1,
        amount_cny=granted["amount_cny"].to_numpy(),
        explore=granted["explore"].to_numpy(),
        decision=served["decision"].to_numpy(),
        pd_served=served["pd"].to_numpy(),
    )
    return loans.loc[lent, LEDGER_COLUMNS].reset_index(drop=True)


def score_round(
    data: RoundInput,
    answers: list[dict[str, Any] | None],
    cold_model: PreapprovalModel,
    economics: Economics,
    rng: np.random.Generator,
) -> Scored:
    """Compare served, cold-start and rule on the pool; grant the bank's loans."""
    served, (model, snapshot_as_of) = served_frame(answers), served_model(answers)
    cold = cold_frame(cold_model, data.features, data.bank.product_policy)
    granted = grants(
        served.assign(requested_amount_cny=data.pool["requested_amount_cny"].to_numpy()),
        data.bank,
        rng,
    )
    own = model.name == tracking.model_name(data.bank.bank_id)
    record = ScoredRound(
        applicants=len(data.pool),
        snapshot_as_of=snapshot_as_of,
        serving_model=model,
        own_model=own,
        scorers=_scorers(data, served, cold, granted, economics),
        auc_gain_ci95=_gain(data, served, cold) if own else None,
        auc_true_pd=_ceiling(data),
        loans=_portfolio(data, granted, economics),
    )
    return Scored(record, _ledger(data, served, granted))


PARAMS = (
    "data_tenants",
    "data_fingerprint",
    "own_loans",
    "own_defaults",
    "pooled_loans",
    "transfer",
    "reject_inference",
    "inferred_rejects",
    "gate_sample",
    "calibration_sample",
    "candidate",
    "candidates",
)


def retrain_summary(settings: Settings, job: Job) -> RetrainSummary:
    """A finished retraining job with its gate and its MLflow lineage (who trained it on what)."""
    if job.status != "succeeded":
        return RetrainSummary(status=job.status, error=job.error)
    result = RetrainResult.model_validate(job.result)
    params = (
        MlflowClient(settings.mlflow_uri, settings.mlflow_uri).get_run(result.run_id).data.params
    )
    return RetrainSummary(
        status="succeeded",
        promotion=result.promotion,
        version=result.version,
        matured_loans=result.matured_loans,
        auc_oot=result.auc,
        ece_oot=result.ece,
        gate={
            c.name: GateCheck(value=c.value, threshold=c.threshold, passed=c.passed)
            for c in result.gate.checks
        },
        **{k: params.get(k) for k in PARAMS},
    )
