"""The validation pack as typed, JSON-ready models (`validation.json`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from training.migration import Concentration, Migration
from training.overrides import Overrides
from training.soundness import MonotoneCheck, ReasonCheck
from training.validation import Calibration, Discrimination

DEFAULT_DEFINITION = (
    "default: 90+ days past due or written off within 12 months of the application date "
    "(as reported by the bank); a loan counts once its 12-month window is observed or it defaulted"
)


class Frozen(BaseModel):
    """Immutable result."""

    model_config = ConfigDict(frozen=True)


class ModelIdentity(Frozen):
    """Which model version was validated, and its lineage."""

    name: str
    version: str
    run_id: str
    model_fingerprint: str
    registry_fingerprint: str | None
    trained_through: str | None
    development_auc: float | None


class VintageCount(Frozen):
    """Loans, defaults and mean PD of one application quarter."""

    vintage: str
    loans: int
    defaults: int
    default_rate: float
    mean_pd: float
    auc: float | None
    in_training_period: bool


class Scope(Frozen):
    """What the pack was computed on."""

    tenant: str
    as_of: str
    default_definition: str = DEFAULT_DEFINITION
    horizon_months: int
    observation_first: str | None
    observation_last: str | None
    loans: int
    defaults: int
    vintages: list[VintageCount]
    grade_vintage: list[dict[str, str | int | float | None]]
    missing_rates: dict[str, float]
    data_sha256: str


class AucComparison(Frozen):
    """Current against development AUC: z = (current - development) / DeLong s.e.; one-sided."""

    development: float
    current: float
    difference: float
    z: float
    p_value: float
    light: str


class VersionComparison(Frozen):
    """The validated version's AUC against another version's on the same loans (paired DeLong)."""

    name: str
    version: str
    role: str
    loans: int
    auc: float
    other_auc: float
    difference: float
    z: float
    p_value: float


class Discriminations(Frozen):
    """Overall and per segment."""

    overall: Discrimination
    segments: list[Discrimination]
    versus_development: AucComparison | None
    versus_versions: list[VersionComparison] = []
    method: str = (
        "AUC and Gini: DeLong variance, normal 95% interval; "
        "KS: stratified percentile bootstrap, 200 rounds, seed 17"
    )


class FeaturePsi(Frozen):
    """PSI of one feature (or the score) against the training reference."""

    name: str
    psi: float | None
    level: str


class Stability(Frozen):
    """PSI against the training reference, grade migration and concentration."""

    reference: str
    score: FeaturePsi | None
    features: list[FeaturePsi]
    migration: Migration | None
    concentration: Concentration | None


class ValidationPack(Frozen):
    """Everything a bank's validator reviews and signs for one model version."""

    generated_at: str
    model: ModelIdentity
    scope: Scope
    discrimination: Discriminations | None
    calibration: Calibration | None
    stability: Stability
    overrides: Overrides
    soundness: list[MonotoneCheck]
    reason_directions: list[ReasonCheck] = []
    not_covered: list[str]
