"""The monitoring result of one tenant, typed: what `run` returns, `render` draws, `/metrics`
publishes and the retraining trigger reads (kept as `monitor.json` / `latest.json`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

Level = Literal["ok", "warn", "alert"]
ScopeName = Literal["decisions", "market"]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Stability(_Frozen):
    """PSI of one feature (or the score) against its frozen training bins."""

    feature: str
    psi: float
    level: Level
    inner_edges: list[float]
    reference_shares: list[float]
    actual_shares: list[float]


class Scope(_Frozen):
    """One population (recent decisions, or the market) against the references."""

    rows: int
    score: Stability | None
    features: list[Stability]
    status: Literal["ok", "too_few_rows", "no_reference"]

    def flagged(self) -> list[Stability]:
        """The warn and alert rows, score first."""
        rows = ([self.score] if self.score else []) + self.features
        return [r for r in rows if r.level != "ok"]


class Reference(_Frozen):
    """Where a version's reference came from and which training rows it describes."""

    source: str
    rows: int | None
    as_of_first: str | None
    as_of_last: str | None


class Rates(_Frozen):
    """Loans, defaults, bad rate and mean PD of a group of matured loans."""

    loans: int
    bads: int
    bad_rate: float
    mean_pd: float


class Vintage(Rates):
    """One application quarter; `in_training_period` when the training data reached it."""

    vintage: str
    auc: float | None
    in_training_period: bool


class GradeRates(Rates):
    """One master-scale grade."""

    grade: str


class GradeVintage(GradeRates):
    """One grade within one vintage."""

    vintage: str


class Performance(_Frozen):
    """Realised performance of a version on the matured loans."""

    matured_loans: int
    bads: int
    auc: float | None
    vintages: list[Vintage]
    grades: list[GradeRates]
    grade_vintage: list[GradeVintage]


class ModelMonitoring(_Frozen):
    """Stability and realised performance of one model version."""

    name: str
    version: str
    run_id: str
    reference: Reference
    serving: bool
    scopes: dict[ScopeName, Scope]
    performance: Performance

    @property
    def slug(self) -> str:
        """A file-name part for this version."""
        return f"{self.name}-v{self.version}"


class MixRow(_Frozen):
    """Decisions of one model version in one period, by outcome."""

    period: str
    model: str
    decisions: int
    approve: int
    refer: int
    decline: int
    approve_share: float
    refer_share: float
    decline_share: float


class DecisionMix(_Frozen):
    """Decisions by week or month."""

    period: Literal["week", "month"]
    rows: list[MixRow]


class Finding(_Frozen):
    """A warn or alert row, with the model version and population it belongs to."""

    model: str
    model_version: str
    scope: ScopeName
    feature: str
    psi: float
    level: Level


class Window(_Frozen):
    """The recent decisions compared (end exclusive)."""

    start: str
    end: str
    days: int


class Thresholds(_Frozen):
    """The PSI levels and the rows a population needs for a PSI."""

    warn: float
    alert: float
    min_rows: int


class Served(_Frozen):
    """The version serving the tenant now."""

    name: str
    version: str


class Summary(_Frozen):
    """Findings by level."""

    alert: int
    warn: int


class RetrainSignal(_Frozen):
    """Whether drift calls for retraining the serving version, and why."""

    drift: bool
    reason: str
    scope: ScopeName | None = None
    score_psi: float | None = None
    feature_alerts: int | None = None


class LinkedRow(_Frozen):
    """Realised performance of the matured loans linked to one kind of answer."""

    source: Literal["decision", "offer", "financing_request"]
    model_version: str
    product: str
    policy_version: str
    decision: str
    loans: int
    bads: int
    bad_rate: float
    mean_pd: float


class MonitoringResult(_Frozen):
    """One tenant's monitoring on one day."""

    tenant: str
    as_of: str
    generated_at: str
    window: Window
    snapshot_as_of: str | None
    thresholds: Thresholds
    serving: Served | None
    models: list[ModelMonitoring]
    decision_mix: DecisionMix
    linked: list[LinkedRow] = []  # matured loans the bank linked to the answer that made them
    alerts: list[Finding]
    summary: Summary
    retrain: RetrainSignal
