"""Parameters of the synthetic Shanwei platform; every number is a documented default."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from catalog.errors import InvalidPlatformData

# Shanwei divisions (GB/T 2260) and their share of registered entities [I].
DIVISIONS: dict[str, float] = {
    "441500": 0.05,  # 汕尾市 (city level; 红海湾 and 华侨 zones carry it)
    "441502": 0.25,  # 城区
    "441521": 0.28,  # 海丰县
    "441523": 0.09,  # 陆河县
    "441581": 0.33,  # 陆丰市
}
# DOMAIN.md §7: ~30% enterprises, 67% individual businesses, 1% cooperatives [I].
TYPE_MIX: dict[str, float] = {
    "enterprise": 0.305,
    "individual": 0.675,
    "cooperative": 0.015,
    "rural_collective": 0.005,
}


@dataclass(frozen=True)
class BankSpec:
    """A simulated bank that lends by the tax-multiplier rule (DOMAIN.md §6)."""

    bank_id: str
    name: str
    share_by_type: dict[str, float]
    multipliers: dict[str, float]
    caps_cny: dict[str, float]
    rate: float
    min_years: float = 2.0
    min_limit_cny: float = 20_000.0


DEFAULT_BANKS = (
    BankSpec(
        "bank_a", "Shanwei Rural Commercial Bank (synthetic)",
        {"enterprise": 0.6, "individual": 0.35, "cooperative": 0.7, "rural_collective": 0.7},
        {"A": 9.0, "B": 6.0, "M": 4.0}, {"enterprise": 3_000_000.0, "individual": 800_000.0,
        "cooperative": 2_000_000.0, "rural_collective": 2_000_000.0}, 0.0420,
    ),
    BankSpec(
        "bank_b", "Guangdong Merchants City Bank (synthetic)",
        {"enterprise": 0.4, "individual": 0.65, "cooperative": 0.3, "rural_collective": 0.3},
        {"A": 10.0, "B": 7.0, "M": 5.0}, {"enterprise": 5_000_000.0, "individual": 1_000_000.0,
        "cooperative": 3_000_000.0, "rural_collective": 3_000_000.0}, 0.0455,
    ),
)  # fmt: skip


@dataclass(frozen=True)
class SynthConfig:
    """Everything `generate` needs; the same config and seed give the same store."""

    entities: int = 20_000
    seed: int = 42
    end_date: dt.date = dt.date(2025, 12, 31)
    years: int = 5
    lending_start_months: int = 12
    chunk_size: int = 25_000
    banks: tuple[BankSpec, ...] = DEFAULT_BANKS
    # Latent health: h = quality + AR(1) + industry + region + macro + crisis jumps.
    ar_phi: float = 0.95
    ar_sd: float = 0.35
    crisis_rate: float = 0.001
    # A city-wide crisis jump (health falls by `city_crisis_size` in that month for every
    # entity, then recovers like any crisis jump); None: no such shock (the default)
    city_crisis_date: dt.date | None = None
    city_crisis_size: float = 0.6
    # Monthly hazards: logistic in -health; loans and public distress share the driver.
    loan_hazard_intercept: float = -7.9
    loan_type_offset: tuple[float, ...] = (0.0, 1.6, 0.5, 0.3)  # by ENTITY_TYPES
    distress_hazard_intercept: float = -6.0
    hazard_slope: float = 2.3
    distress_slope: float = 1.5
    application_rate: float = 0.012
    defect_rates: dict[str, float] = field(
        default_factory=lambda: {
            "bad_check_char": 1.0e-4,
            "duplicate_code": 0.3e-4,
            "missing_month": 0.015,
            "late_record": 0.03,
            "corrected_record": 0.01,
            "retracted_record": 0.002,
            "orphan_record": 0.0005,
        }
    )

    def __post_init__(self) -> None:
        if not 100 <= self.entities <= 50_000_000:
            raise InvalidPlatformData("entities must be between 100 and 50,000,000")
        if not 4 <= self.years <= 20:
            raise InvalidPlatformData("years of history must be between 4 and 20")
        if self.seed < 0:
            raise InvalidPlatformData("seed must be a non-negative integer")

    @property
    def n_months(self) -> int:
        """Months of history, ending with the month of `end_date`."""
        return self.years * 12
