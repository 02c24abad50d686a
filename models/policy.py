"""A bank product's credit policy: decision thresholds, capacity, PD multiplier, caps and gates.

Defaults follow DOMAIN.md §6 for a tax-based SME loan (银税互动). A policy lives in a YAML or
TOML file per bank product; `load_policy` turns any malformed or invalid file into one readable
`InvalidInput` line (field path and problem, never the file's content).
"""

from __future__ import annotations

import hashlib
import json
import re
from functools import cache
from importlib import resources
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from catalog import config_file
from catalog.errors import InvalidInput
from catalog.schema import ENTITY_TYPES, INDUSTRY_SECTIONS, TAX_GRADES

Share = Annotated[float, Field(ge=0.0, le=1.0)]
NonNegative = Annotated[float, Field(ge=0.0)]
Months = Annotated[int, Field(ge=0)]
Rate = Annotated[float, Field(ge=0.0, le=0.36)]  # annual; 36%: the legal ceiling on lending
GRADE_LABEL = re.compile(r"G[0-9]{2}")
DEFAULT_CAPS = {
    "enterprise": 5_000_000.0,
    "individual": 1_000_000.0,
    "cooperative": 3_000_000.0,
    "rural_collective": 3_000_000.0,
}
DEFAULT_POLICY_FILE = "platform_default.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DecisionPolicy(_Strict):
    """PD <= approve_max_pd approves, PD <= refer_max_pd refers, above declines."""

    approve_max_pd: Share = 0.03
    refer_max_pd: Share = 0.08

    @model_validator(mode="after")
    def _ordered(self) -> DecisionPolicy:
        if self.approve_max_pd > self.refer_max_pd:
            raise ValueError(
                f"approve_max_pd ({self.approve_max_pd}) must be <= refer_max_pd ({self.refer_max_pd})"
            )
        return self


class CapacityPolicy(_Strict):
    """Capacity base = max of the components (CNY); a factor of 0 switches a component off."""

    tax_multiple: NonNegative = 8.0  # x average annual tax of the last 24 months
    revenue_share: Share = 0.2  # x declared revenue of the last 12 months
    per_head_cny: NonNegative = 60_000.0  # x latest insured headcount
    max_revenue_share: Share = 0.25  # limit <= this x declared revenue of 12 months (0: off)


class MultiplierStep(_Strict):
    """PDs up to `max_pd` (inclusive) keep `multiplier` x the capacity base."""

    max_pd: Annotated[float, Field(gt=0.0, le=1.0)]
    multiplier: NonNegative


DEFAULT_STEPS = tuple(
    MultiplierStep(max_pd=p, multiplier=m)
    for p, m in ((0.005, 1.0), (0.01, 0.9), (0.02, 0.75), (0.03, 0.6), (0.05, 0.4),
                 (0.08, 0.25), (1.0, 0.0))
)  # fmt: skip


class GatePolicy(_Strict):
    """Hard rules; each is switched off by false, 0 or an empty list (TOML has no null)."""

    known_entity: bool = True
    not_deregistered: bool = True
    no_court_debtor: bool = True
    no_serious_dishonesty: bool = True
    no_abnormal_operations: bool = True
    excluded_tax_grades: tuple[str, ...] = ("C", "D")
    require_tax_paid_12m: bool = True
    min_age_months: Months = 24
    min_age_months_grade_m: Months = 12  # tax grade M: newly rated, shorter history accepted
    excluded_industries: tuple[str, ...] = ("J", "K", "R")  # finance, real estate, entertainment
    # A court debtor whose every case in force predates the court's acceptance of a
    # reorganisation whose plan is in execution (企业破产法 arts. 86, 92): "refer" passes the
    # court-debtor gate and refers the entity with the plan named; "decline" ignores the plan.
    # Left out of the canonical JSON at its default: older policies keep their fingerprints.
    reorganisation_plan: Literal["refer", "decline"] = Field(
        default="refer", exclude_if=lambda value: value == "refer"
    )

    @field_validator("excluded_tax_grades")
    @classmethod
    def _known_grades(cls, grades: tuple[str, ...]) -> tuple[str, ...]:
        return _known(grades, TAX_GRADES, "tax grades")

    @field_validator("excluded_industries")
    @classmethod
    def _known_sections(cls, sections: tuple[str, ...]) -> tuple[str, ...]:
        return _known(sections, INDUSTRY_SECTIONS, "GB/T 4754 sections")

    @property
    def min_age_enabled(self) -> bool:
        """Whether any entity can fail the minimum-age gate."""
        return max(self.min_age_months, self.min_age_months_grade_m) > 0


def _known(values: tuple[str, ...], allowed: tuple[str, ...], what: str) -> tuple[str, ...]:
    unknown = [i for i, v in enumerate(values) if v not in allowed]
    if unknown:  # positions, not values: error messages never repeat raw input
        raise ValueError(
            f"unknown {what} at positions {unknown}; expected some of {', '.join(allowed)}"
        )
    return tuple(a for a in allowed if a in values)  # canonical order for the fingerprint


class ProductPolicy(_Strict):
    """One bank product's policy; `fingerprint()` identifies it in every stored decision."""

    bank: str = "platform"
    product: str = "sme_credit"
    version: Annotated[str, Field(min_length=1)]
    currency: Literal["CNY"] = "CNY"
    decision: DecisionPolicy = DecisionPolicy()
    capacity: CapacityPolicy = CapacityPolicy()
    pd_multiplier: tuple[MultiplierStep, ...] = DEFAULT_STEPS
    caps_cny: dict[str, NonNegative] = Field(default_factory=lambda: dict(DEFAULT_CAPS))
    min_limit_cny: NonNegative = 20_000.0
    gates: GatePolicy = GatePolicy()
    rate_band: dict[str, Rate] = Field(  # omitted when empty: older fingerprints unchanged
        default_factory=dict, exclude_if=lambda band: not band
    )

    @field_validator("rate_band")
    @classmethod
    def _grade_labels(cls, band: dict[str, float]) -> dict[str, float]:
        bad = [i for i, label in enumerate(band) if not GRADE_LABEL.fullmatch(label)]
        if bad:  # positions, not labels: errors never repeat raw input
            raise ValueError(f"grade labels at positions {bad} must look like G01..G99")
        return dict(sorted(band.items()))

    def indicative_rate(self, grade_label: str) -> float | None:
        """The rate band's indicative annual rate for a grade (None: no rate for it)."""
        return self.rate_band.get(grade_label)

    @field_validator("pd_multiplier")
    @classmethod
    def _steps_monotone(cls, steps: tuple[MultiplierStep, ...]) -> tuple[MultiplierStep, ...]:
        if not steps or steps[-1].max_pd != 1.0:
            raise ValueError("needs at least one step and the last step must have max_pd 1.0")
        for low, high in pairwise(steps):
            if high.max_pd <= low.max_pd:
                raise ValueError("max_pd must rise strictly from step to step")
            if high.multiplier > low.multiplier:
                raise ValueError(
                    f"multipliers must not increase with PD ({low.multiplier} at max_pd "
                    f"{low.max_pd}, then {high.multiplier} at max_pd {high.max_pd})"
                )
        return steps

    @field_validator("caps_cny")
    @classmethod
    def _caps_per_entity_type(cls, caps: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(caps) - set(ENTITY_TYPES))
        missing = [t for t in ENTITY_TYPES if t not in caps]
        if unknown or missing:
            raise ValueError(
                f"needs exactly the entity types {list(ENTITY_TYPES)}; "
                f"unknown: {unknown}, missing: {missing}"
            )
        return {t: caps[t] for t in ENTITY_TYPES}

    def to_json(self) -> str:
        """Canonical JSON: sorted keys, no whitespace."""
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> ProductPolicy:
        """Parse `to_json` output; invalid content raises InvalidInput."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"policy JSON: {exc.msg} at line {exc.lineno}") from None
        return _validate(data, "policy JSON")

    def fingerprint(self) -> str:
        """SHA-256 of the canonical JSON."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()


_FINGERPRINTS: dict[int, tuple[ProductPolicy, str]] = {}
_MAX_REMEMBERED = 256


def fingerprint_of(policy: ProductPolicy) -> str:
    """`policy.fingerprint()`, computed once per policy object (the hot path asks per answer).

    Keyed by identity and checked by identity, so a new or copied policy is hashed afresh.
    """
    found = _FINGERPRINTS.get(id(policy))
    if found is not None and found[0] is policy:
        return found[1]
    if len(_FINGERPRINTS) >= _MAX_REMEMBERED:
        _FINGERPRINTS.clear()
    value = policy.fingerprint()
    _FINGERPRINTS[id(policy)] = (policy, value)
    return value


def load_policy(path: Path) -> ProductPolicy:
    """Read and validate a `.yaml`, `.yml` or `.toml` policy file."""
    return _validate(config_file.read(path, "policy"), f"policy {path.name}")


@cache
def default_policy() -> ProductPolicy:
    """The platform's default product policy shipped with the package (read once)."""
    text = resources.files("models.policies").joinpath(DEFAULT_POLICY_FILE).read_text("utf-8")
    where = f"policy {DEFAULT_POLICY_FILE}"
    return _validate(config_file.parse(text, ".yaml", where), where)


def parse_policy(text: str, suffix: str, where: str) -> ProductPolicy:
    """Validate an uploaded policy (YAML, or TOML when `suffix` is `.toml`)."""
    return _validate(config_file.parse(text, suffix, where), where)


def _validate(data: Any, where: str) -> ProductPolicy:
    if not isinstance(data, dict):
        raise InvalidInput(f"{where}: must be a mapping of policy fields")
    try:
        return ProductPolicy.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput(f"{where}: {_first_error(exc)}") from None


def _first_error(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False, include_input=False)
    first = errors[0]
    field = ".".join(str(part) for part in first["loc"]) or "(top level)"
    message = first["msg"].removeprefix("Value error, ")
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{field}: {message}{more}"
