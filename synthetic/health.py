"""Latent financial health per entity and month, the hazards it drives, and the ground truth.

h[i, m] = quality_i + AR(1)_i + industry shock + regional shock + macro + crisis jumps + youth.
Loans default and public distress occurs with monthly hazard sigmoid(a - b * h); everything
observable on the platform is a noisy consequence of h, so a model can learn it only partly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from catalog.errors import InvalidPlatformData
from catalog.schema import INDUSTRY_SECTIONS
from synthetic.config import DIVISIONS, SynthConfig
from synthetic.population import Population

SHOCK_PHI = 0.9
CRISIS_DECAY = 0.85
YOUTH_PENALTY, YOUTH_MONTHS = 0.6, 24.0
CHURN = np.array([0.003, 0.006, 0.003, 0.0005])  # monthly closure by ENTITY_TYPES index
DISTRESS_CLOSURE = 0.25


@dataclass(frozen=True)
class Shocks:
    """City-wide paths shared by every chunk: industry, region and macro shocks per month."""

    industry: np.ndarray  # (sections, months)
    region: np.ndarray  # (divisions, months)
    macro: np.ndarray  # (months,)
    crisis: np.ndarray  # (months,): the city-wide crisis jump's path (zeros without one)


@dataclass(frozen=True)
class HealthPaths:
    """Per entity x month matrices for one chunk."""

    health: np.ndarray
    alive: np.ndarray
    loan_hazard: np.ndarray
    distress: np.ndarray  # bool: a distress episode starts this month
    closed_m: np.ndarray  # month of deregistration (n_months if never)
    pd_12m: np.ndarray
    capacity: np.ndarray


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function."""
    return 1.0 / (1.0 + np.exp(-x))


def _ar1(rng: np.random.Generator, shape: tuple[int, int], phi: float, sd: float) -> np.ndarray:
    out = np.empty(shape)
    out[:, 0] = rng.standard_normal(shape[0]) * sd
    innovation = np.sqrt(1 - phi**2) * sd
    for m in range(1, shape[1]):
        out[:, m] = phi * out[:, m - 1] + innovation * rng.standard_normal(shape[0])
    return out


def draw_shocks(config: SynthConfig) -> Shocks:
    """City-wide shocks (deterministic in the seed, independent of chunking)."""
    rng = np.random.default_rng([config.seed, 2])
    months = config.n_months
    macro = 0.08 * _ar1(rng, (1, months), SHOCK_PHI, 1.0)[0]
    dip = np.arange(months) - (months - 48)  # a downturn 4 years before the end, like 2022
    macro -= 0.35 * np.exp(-0.5 * ((dip - 6) / 4.0) ** 2)
    return Shocks(
        industry=_ar1(rng, (len(INDUSTRY_SECTIONS), months), SHOCK_PHI, 0.25),
        region=_ar1(rng, (len(DIVISIONS), months), SHOCK_PHI, 0.12),
        macro=macro,
        crisis=_city_crisis(config),
    )


def _city_crisis(config: SynthConfig) -> np.ndarray:
    """The city-wide crisis jump: -size in its month, decaying like an entity's crisis."""
    path = np.zeros(config.n_months)
    if config.city_crisis_date is None:
        return path
    last = np.datetime64(config.end_date, "M")
    month = int((np.datetime64(config.city_crisis_date, "M") - last) // np.timedelta64(1, "M"))
    month += config.n_months - 1
    if not 0 <= month < config.n_months:
        raise InvalidPlatformData("city_crisis_date must fall inside the history")
    after = np.arange(config.n_months - month)
    path[month:] = -config.city_crisis_size * CRISIS_DECAY**after
    return path


def _crises(rng: np.random.Generator, shape: tuple[int, int], rate: float) -> np.ndarray:
    hits = (rng.random(shape) < rate) * -rng.uniform(1.0, 2.5, size=shape)
    out = np.empty(shape)
    out[:, 0] = hits[:, 0]
    for m in range(1, shape[1]):
        out[:, m] = CRISIS_DECAY * out[:, m - 1] + hits[:, m]
    return out


def _youth(pop: Population, months: np.ndarray) -> np.ndarray:
    age = np.maximum(months[None, :] - pop.founded_m[:, None], 0)
    return -YOUTH_PENALTY * np.exp(-age / YOUTH_MONTHS)


def _closure(rng: np.random.Generator, pop: Population, distress: np.ndarray) -> np.ndarray:
    n, months = distress.shape
    churn = rng.random((n, months)) < CHURN[pop.etype][:, None]
    after = distress & (rng.random((n, months)) < DISTRESS_CLOSURE)
    delay = np.where(after, rng.integers(6, 19, size=(n, months)), 0)
    event_m = np.where(churn, np.arange(months), np.where(after, np.arange(months) + delay, months))
    event_m = np.where(np.arange(months) > pop.founded_m[:, None], event_m, months)  # open first
    return np.minimum(event_m.min(axis=1), months)


def _truth_pd(
    config: SynthConfig, intercept: np.ndarray, base: np.ndarray, parts: dict[str, np.ndarray]
) -> np.ndarray:
    """12-month PD of a loan granted in month m, from the forecast of h (probit-corrected)."""
    survive = np.ones_like(base)
    b = config.hazard_slope
    for k in range(1, 13):
        mean = base + config.ar_phi**k * parts["ar"] + SHOCK_PHI**k * parts["shock"]
        mean += CRISIS_DECAY**k * parts["crisis"]
        var = config.ar_sd**2 * (1 - config.ar_phi ** (2 * k)) + 0.07 * (1 - SHOCK_PHI ** (2 * k))
        scale = np.sqrt(1 + np.pi * b**2 * var / 8)
        survive *= 1 - sigmoid((intercept - b * mean) / scale)
    return np.asarray(1 - survive)


def simulate_health(
    config: SynthConfig, pop: Population, shocks: Shocks, chunk: int
) -> HealthPaths:
    """Health paths, hazards, closures and ground truth for one chunk of entities."""
    rng = np.random.default_rng([config.seed, 3, chunk])
    n, months = len(pop), config.n_months
    grid = np.arange(months)
    ar = _ar1(rng, (n, months), config.ar_phi, config.ar_sd)
    crisis = _crises(rng, (n, months), config.crisis_rate) + shocks.crisis[None, :]
    shock = shocks.industry[pop.industry] + shocks.region[pop.division] + shocks.macro[None, :]
    base = pop.quality[:, None] + _youth(pop, grid)
    health = base + ar + shock + crisis
    b = config.hazard_slope
    distress = rng.random((n, months)) < sigmoid(
        config.distress_hazard_intercept - config.distress_slope * health
    )
    closed_m = _closure(rng, pop, distress)
    alive = (grid[None, :] >= pop.founded_m[:, None]) & (grid[None, :] < closed_m[:, None])
    intercept = (
        config.loan_hazard_intercept + np.asarray(config.loan_type_offset)[pop.etype][:, None]
    )
    pd_12m = _truth_pd(config, intercept, base, {"ar": ar, "shock": shock, "crisis": crisis})
    revenue = pop.size[:, None] * np.exp(pop.revenue_sensitivity[:, None] * health)
    return HealthPaths(
        health=health,
        alive=alive,
        distress=distress & alive,
        closed_m=closed_m,
        loan_hazard=sigmoid(intercept - b * health),
        pd_12m=pd_12m,
        capacity=0.3 * revenue * np.clip(1 - 4 * pd_12m, 0, 1),
    )
