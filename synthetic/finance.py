"""Shared financing data driven by health: tax paid, tax ratings, social insurance, utilities."""

from __future__ import annotations

import numpy as np

from catalog.schema import INDUSTRY_SECTIONS, TAX_GRADES
from synthetic.health import HealthPaths, sigmoid
from synthetic.population import Population
from synthetic.timeline import Timeline

Frame = dict[str, np.ndarray]
SI_DUE_PER_HEAD = 1_100.0
SMALL_SCALE_QUARTER = 300_000.0  # small-scale VAT exemption threshold per quarter
KWH_PER_CNY = {"C": 0.30, "A": 0.12, "D": 0.40, "G": 0.10, "E": 0.08, "H": 0.10}
RATED_INDIVIDUALS = 0.7
# Heterogeneity real data has and an additive scorecard cannot express [I]: revenue of
# cyclical sectors follows health closely; enterprises pay utilities by automatic debit
# (late payment says little), individual businesses pay by hand (it says a lot); small
# employers fall behind on social insurance sooner than large ones.
UTILITY_SLOPE = np.array([0.6, 2.6, 1.6, 1.0])  # by ENTITY_TYPES


def cells(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row and month index of every True cell of an entity x month mask."""
    rows, months = np.nonzero(mask)
    return rows, months


def monthly_revenue(
    rng: np.random.Generator, pop: Population, paths: HealthPaths, timeline: Timeline
) -> np.ndarray:
    """Revenue per entity and month: size x health x seasonality x noise (zero when closed)."""
    calendar_month = (timeline.first_month + np.arange(timeline.n_months)).astype(int) % 12
    season = 1 + 0.15 * np.cos(2 * np.pi * (calendar_month - 1) / 12)
    noise = np.exp(0.2 * rng.standard_normal(paths.health.shape) - 0.02)
    sensitivity = pop.revenue_sensitivity[:, None]
    revenue = pop.size[:, None] / 12 * np.exp(sensitivity * paths.health) * season[None, :] * noise
    return np.where(paths.alive, revenue, 0.0)


def tax_payments(
    rng: np.random.Generator,
    pop: Population,
    paths: HealthPaths,
    revenue: np.ndarray,
    timeline: Timeline,
) -> Frame:
    """One declaration per entity and complete calendar quarter it was open in."""
    first = int(-(timeline.first_month.astype(int) % 3) % 3)
    n_q = (timeline.n_months - first) // 3
    span = slice(first, first + 3 * n_q)
    rev_q = revenue[:, span].reshape(len(pop), n_q, 3).sum(axis=2)
    alive_q = paths.alive[:, span].reshape(len(pop), n_q, 3).all(axis=2)
    health_q = paths.health[:, span].reshape(len(pop), n_q, 3).mean(axis=2)
    rate = rng.uniform(0.012, 0.045, size=len(pop))
    never_pays = pop.is_type("individual") & (rng.random(len(pop)) < 0.35)
    small = rev_q <= SMALL_SCALE_QUARTER  # VAT-exempt: surtaxes and income tax only
    small_tax = rev_q * rate[:, None] * 0.4 * (rng.random(rev_q.shape) < 0.7)
    tax = np.where(small, small_tax, rev_q * rate[:, None])
    tax = np.where(health_q < -1.5, tax * 0.3, tax) * ~never_pays[:, None]
    rows, q = cells(alive_q)
    start = timeline.month_start(first + 3 * q)
    end = timeline.month_start(first + 3 * q + 3) - 1
    return {
        "eidx": pop.eidx[rows],
        "period_start": start,
        "period_end": end,
        "tax_paid_cny": tax[rows, q].round(2),
        "revenue_cny": rev_q[rows, q].round(2),
        "event": end + 15,
    }


def tax_ratings(
    rng: np.random.Generator, pop: Population, paths: HealthPaths, timeline: Timeline
) -> Frame:
    """Annual grade per rated taxpayer, published on 20 April of the next year.

    The year before the history is rated from the first twelve months (the platform holds
    ratings published inside its history).
    """
    years = (timeline.first_month + np.arange(timeline.n_months)).astype("datetime64[Y]")
    rated = ~pop.is_type("individual") | (rng.random(len(pop)) < RATED_INDIVIDUALS)
    out: list[Frame] = []
    for year in np.concatenate([[years[0] - 1], np.unique(years)]):
        published = (year + 1).astype("datetime64[D]") + 109  # 20 April
        in_year = (
            np.asarray(years == year) if year >= years[0] else np.arange(timeline.n_months) < 12
        )
        if in_year.sum() < 12 or published > timeline.end_date:
            continue
        last_m = int(np.nonzero(in_year)[0][-1])
        score = 80 + 10 * paths.health[:, in_year].mean(axis=1) + 6 * rng.standard_normal(len(pop))
        new = pop.founded_m > last_m - 24
        grade = np.select([score >= 90, score >= 70, score >= 40], [0, 1, 3], 4)
        grade = np.where(new & (score >= 70), TAX_GRADES.index("M"), grade)
        rows = np.nonzero(rated & paths.alive[:, last_m] & (pop.founded_m <= last_m - 11))[0]
        out.append(
            {
                "eidx": pop.eidx[rows],
                "rating_year": np.full(len(rows), year.astype(int) + 1970),
                "grade": grade[rows],
                "published_date": np.full(len(rows), published),
                "event": np.full(len(rows), published),
            }
        )
    return {k: np.concatenate([f[k] for f in out]) for k in out[0]} if out else {}


def _arrears_run(flags: np.ndarray) -> np.ndarray:
    run = np.zeros(flags.shape)
    for m in range(flags.shape[1]):
        run[:, m] = np.where(flags[:, m], (run[:, m - 1] if m else 0) + 1, 0)
    return run


def social_insurance(
    rng: np.random.Generator, pop: Population, paths: HealthPaths, timeline: Timeline
) -> Frame:
    """Monthly headcount, contributions and arrears of employers."""
    drift = paths.health - pop.quality[:, None]
    noise = rng.normal(0, 0.6, size=paths.health.shape)
    headcount = np.maximum(np.round(pop.headcount0[:, None] * np.exp(0.25 * drift) + noise), 0)
    small = (pop.headcount0 < 10)[:, None]
    behind = rng.random(paths.health.shape) < sigmoid(
        np.where(small, -4.0, -5.5) - np.where(small, 2.4, 1.2) * paths.health
    )
    due = headcount * SI_DUE_PER_HEAD
    arrears = _arrears_run(behind) * due
    rows, m = cells(paths.alive & pop.employer[:, None])
    return {
        "eidx": pop.eidx[rows],
        "month": timeline.month_start(m),
        "headcount": headcount[rows, m].astype(np.int64),
        "paid_cny": np.where(behind[rows, m], 0.0, due[rows, m]),
        "arrears_cny": arrears[rows, m],
        "event": timeline.month_start(m + 1) + 10,
    }


def utilities(
    rng: np.random.Generator,
    pop: Population,
    paths: HealthPaths,
    revenue: np.ndarray,
    timeline: Timeline,
) -> Frame:
    """Monthly electricity and water use and payment behaviour of consenting entities."""
    intensity = np.array([KWH_PER_CNY.get(s, 0.05) for s in INDUSTRY_SECTIONS])[pop.industry]
    kwh = revenue * intensity[:, None] * np.exp(0.15 * rng.standard_normal(revenue.shape))
    water = kwh * 0.02 * np.exp(0.3 * rng.standard_normal(revenue.shape))
    due = kwh * 0.68 + water * 3.2
    slope = UTILITY_SLOPE[pop.etype][:, None]
    on_time = rng.random(revenue.shape) < sigmoid(3.2 + slope * paths.health)
    unpaid = np.where(on_time, 0.0, due)
    arrears = (
        unpaid + np.pad(unpaid, ((0, 0), (1, 0)))[:, :-1] + np.pad(unpaid, ((0, 0), (2, 0)))[:, :-2]
    )
    rows, m = cells(paths.alive & pop.shares_utilities[:, None])
    return {
        "eidx": pop.eidx[rows],
        "month": timeline.month_start(m),
        "electricity_kwh": kwh[rows, m].round(1),
        "water_m3": water[rows, m].round(2),
        "amount_due_cny": due[rows, m].round(2),
        "paid_on_time": on_time[rows, m],
        "arrears_cny": arrears[rows, m].round(2),
        "event": timeline.month_start(m + 1) + 5,
    }
