"""The simulation's results, typed: one record per round and bank, and the report around them.

`run` builds the records, `report` summarises and writes them (`report.json` is their JSON),
`plots` draws them.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, JsonValue

Scores = dict[str, float | None]  # one scorer's metrics on a round (lending.scorer_metrics)
JsonObject = dict[str, JsonValue]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServingModel(_Frozen):
    """The one model version that answered a bank's whole round."""

    name: str
    version: str
    fingerprint: str


class Portfolio(_Frozen):
    """What the bank actually lent in a round (test loans included)."""

    n: int
    test_loans: int
    amount_cny: float
    bad_rate: float | None
    expected_profit_cny: float
    realised_profit_cny: float


class GateCheck(_Frozen):
    """One check of the promotion gate."""

    value: float | None
    threshold: float | None
    passed: bool


class RetrainSummary(_Frozen):
    """A finished retraining job: its gate, promotion and MLflow lineage (who trained on what)."""

    status: str
    error: str | None = None
    promotion: str | None = None
    version: str | None = None
    matured_loans: int | None = None
    auc_oot: float | None = None
    ece_oot: float | None = None
    gate: dict[str, GateCheck] | None = None
    data_tenants: str | None = None
    data_fingerprint: str | None = None
    own_loans: str | None = None
    own_defaults: str | None = None
    pooled_loans: str | None = None
    transfer: str | None = None
    reject_inference: str | None = None
    inferred_rejects: str | None = None
    gate_sample: str | None = None
    calibration_sample: str | None = None  # the rows the challenger's calibrator was fitted on
    candidate: str | None = None  # the outcomes model offered to the gate (`training.candidates`)
    candidates: str | None = None  # every candidate's AUC on the calibration sample
    approved_by: str | None = None


class ScoredRound(_Frozen):
    """What one bank's round was answered and lent (`round.score_round`)."""

    applicants: int
    snapshot_as_of: str
    serving_model: ServingModel
    own_model: bool
    scorers: dict[str, Scores]
    auc_gain_ci95: list[float] | None
    auc_true_pd: float | None
    loans: Portfolio


class Check(BaseModel):
    """A gate check as a retraining job reports it."""

    name: str
    value: float | None
    threshold: float | None
    passed: bool


class Verdict(BaseModel):
    """The gate's verdict in a retraining job's result."""

    checks: list[Check]


class RetrainResult(BaseModel):
    """The part of a succeeded retraining job's result the simulation reads."""

    run_id: str
    promotion: str
    version: str | None
    matured_loans: int
    auc: float | None
    ece: float | None
    gate: Verdict


class RoundRecord(_Frozen):
    """One bank's round: the three scorers on the same applicants, its loans, its retraining."""

    round: int
    date: str
    bank: str
    snapshot_reloaded: bool
    applicants: int
    snapshot_as_of: str
    serving_model: ServingModel
    own_model: bool
    scorers: dict[str, Scores]
    auc_gain_ci95: list[float] | None
    auc_true_pd: float | None
    loans: Portfolio
    outcomes_posted: int
    outcomes_reported_total: int
    defaults_reported_total: int
    retrain: RetrainSummary | None


class SimulationReport(_Frozen):
    """What a run leaves: its metadata, one record per round and bank, and per-bank summaries."""

    meta: JsonObject
    records: list[RoundRecord]
    summary: dict[str, JsonObject]
