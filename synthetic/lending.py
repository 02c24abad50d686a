"""Banks lending today by the tax-multiplier rule (DOMAIN.md §6), and what became of the loans.

The banks see the platform as it was on the application day (published ratings, declared tax,
listings in force); loan defaults are drawn from the hidden health path, so the incumbent rule
is a realistic, beatable baseline.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import numpy as np

from catalog.schema import ENTITY_TYPES, INDUSTRY_SECTIONS, TAX_GRADES
from synthetic.config import BankSpec, SynthConfig
from synthetic.finance import Frame
from synthetic.health import HealthPaths, sigmoid
from synthetic.population import Population
from synthetic.timeline import Timeline

EXCLUDED_INDUSTRIES = ("J", "K", "R")  # finance, real estate, entertainment
NO_GRADE = -1


def _rows(frame: Frame, pop: Population) -> np.ndarray:
    return np.asarray(frame["eidx"] - pop.eidx[0]) if frame else np.zeros(0, np.int64)


def _months_of(days: np.ndarray, timeline: Timeline) -> np.ndarray:
    return np.clip(timeline.month_index(days), 0, timeline.n_months)


def in_force(frame: Frame, pop: Population, timeline: Timeline, start: str, end: str) -> np.ndarray:
    """Entity x month mask of entries in force (listed on or before, removed after, the month)."""
    months = timeline.n_months
    steps = np.zeros((len(pop), months + 1))
    if frame:
        first = frame["version"] == 1 if "version" in frame else np.ones(len(frame["eidx"]), bool)
        rows = _rows(frame, pop)[first]
        np.add.at(steps, (rows, _months_of(frame[start][first] + 31, timeline)), 1)
        removed = frame[end][first]
        gone = ~np.isnat(removed)
        np.add.at(steps, (rows[gone], _months_of(removed[gone], timeline)), -1)
        if "version" in frame:  # a removal recorded as a later version
            later = ~first
            np.add.at(
                steps, (_rows(frame, pop)[later], _months_of(frame[end][later], timeline)), -1
            )
    return np.cumsum(steps, axis=1)[:, :months] > 0


def visible_tax(tax: Frame, pop: Population, timeline: Timeline) -> np.ndarray:
    """Tax paid per entity and month it became visible (the month after filing)."""
    out = np.zeros((len(pop), timeline.n_months + 1))
    np.add.at(out, (_rows(tax, pop), _months_of(tax["event"] + 31, timeline)), tax["tax_paid_cny"])
    return out[:, : timeline.n_months]


def latest_grade(ratings: Frame, pop: Population, timeline: Timeline) -> np.ndarray:
    """Latest published tax grade per entity and month (index into TAX_GRADES, -1 none)."""
    grade = np.full((len(pop), timeline.n_months + 1), NO_GRADE)
    if not ratings:
        return grade[:, :-1]
    months = _months_of(ratings["published_date"] + 31, timeline)
    stamp = np.full(grade.shape, -1)
    order = np.argsort(ratings["published_date"], kind="stable")
    rows = _rows(ratings, pop)[order]
    stamp[rows, months[order]] = np.arange(len(order))  # later publications win
    latest = np.maximum.accumulate(stamp, axis=1)
    values = np.append(ratings["grade"][order], NO_GRADE)
    return np.asarray(values[latest][:, :-1])


def _trailing(monthly: np.ndarray, window: int) -> np.ndarray:
    cum = np.cumsum(np.pad(monthly, ((0, 0), (1, 0))), axis=1)
    lagged = np.concatenate([np.zeros((len(monthly), window)), cum[:, :-window]], axis=1)
    return np.asarray((cum - lagged[:, : cum.shape[1]])[:, 1:])


def _pick_banks(
    rng: np.random.Generator, etype: np.ndarray, banks: tuple[BankSpec, ...]
) -> np.ndarray:
    shares = np.array([[b.share_by_type[t] for b in banks] for t in ENTITY_TYPES])[etype]
    shares = shares / shares.sum(axis=1, keepdims=True)
    return (rng.random(len(etype))[:, None] > np.cumsum(shares, axis=1)).sum(axis=1)


def _limits(
    bank: BankSpec, grade: np.ndarray, tax_24m: np.ndarray, etype: np.ndarray
) -> np.ndarray:
    mult = np.array([bank.multipliers.get(g, 0.0) for g in TAX_GRADES] + [0.0])[grade]
    caps = np.array([bank.caps_cny[t] for t in ENTITY_TYPES])[etype]
    return np.asarray(np.minimum(tax_24m / 2 * mult, caps).round(-3))


def _decide(bank: BankSpec, app: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Incumbent rule: gates then limit; returns (decline reason or '', limit)."""
    grade = app["grade"]
    min_years = np.where(grade == TAX_GRADES.index("M"), 1.0, bank.min_years)
    limit = _limits(bank, grade, app["tax_24m"], app["etype"])
    checks = [
        (
            np.isin(app["industry"], [INDUSTRY_SECTIONS.index(s) for s in EXCLUDED_INDUSTRIES]),
            "excluded_industry",
        ),
        (app["listed"], "listing_in_force"),
        (app["abnormal"], "abnormal_operations"),
        (app["age_years"] < min_years, "too_young"),
        (~np.isin(grade, [0, 1, 2]), "tax_grade"),
        (app["tax_12m"] <= 0, "no_tax_paid"),
        (limit < bank.min_limit_cny, "limit_below_minimum"),
    ]
    reason = np.full(len(grade), "", dtype=object)
    for failed, name in reversed(checks):
        reason[failed] = name
    return reason, np.where(reason == "", limit, 0.0)


@dataclass(frozen=True)
class Market:
    """One chunk of the simulated market: its entities, their health paths, the calendar."""

    pop: Population
    paths: HealthPaths
    timeline: Timeline


def applications(
    rng: np.random.Generator,
    config: SynthConfig,
    market: Market,
    seen: dict[str, np.ndarray],
) -> dict[str, np.ndarray]:
    """Loan applications from the lending start on, with each bank's decision."""
    pop, paths, timeline = market.pop, market.paths, market.timeline
    grid = np.arange(timeline.n_months)
    age_m = grid[None, :] - pop.founded_m[:, None]
    demand = np.array([1.5, 0.6, 1.0, 1.0])[pop.etype][:, None]  # by ENTITY_TYPES
    p = config.application_rate * demand * np.exp(-0.25 * paths.health)
    eligible = paths.alive & (age_m >= 6) & (grid[None, :] >= config.lending_start_months)
    rows, m = np.nonzero(eligible & (rng.random(p.shape) < p))
    tax_12m, tax_24m = _trailing(seen["tax"], 12), _trailing(seen["tax"], 24)
    app = {
        "row": rows,
        "m": m,
        "etype": pop.etype[rows],
        "industry": pop.industry[rows],
        "grade": seen["grade"][rows, m],
        "listed": seen["listed"][rows, m],
        "abnormal": seen["abnormal"][rows, m],
        "age_years": age_m[rows, m] / 12,
        "tax_12m": tax_12m[rows, m],
        "tax_24m": tax_24m[rows, m],
        "bank": _pick_banks(rng, pop.etype[rows], config.banks),
        "date": timeline.day_in_month(m, rng),
    }
    revenue = pop.size[rows] * np.exp(pop.revenue_sensitivity[rows] * paths.health[rows, m])
    app["requested"] = np.maximum(
        (0.25 * revenue * rng.uniform(0.5, 1.5, len(rows))).round(-4), 10_000
    )
    app["reason"], app["limit"] = np.full(len(rows), "", dtype=object), np.zeros(len(rows))
    for b, bank in enumerate(config.banks):
        mine = app["bank"] == b
        reason, limit = _decide(bank, {k: v[mine] for k, v in app.items()})
        app["reason"][mine], app["limit"][mine] = reason, limit
    return app


def outcomes(
    rng: np.random.Generator, paths: HealthPaths, timeline: Timeline, app: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Loans for approved applications and their 12-month performance as of the end date."""
    ok = app["reason"] == ""
    rows, m0 = app["row"][ok], app["m"][ok]
    start = app["date"][ok] + rng.integers(3, 21, size=len(rows))
    k = np.arange(1, 13)
    month = m0[:, None] + k[None, :]
    observed = month < timeline.n_months
    hazard = paths.loan_hazard[rows[:, None], np.minimum(month, timeline.n_months - 1)]
    hit = observed & (rng.random(hazard.shape) < hazard)
    defaulted = hit.any(axis=1)
    first = np.where(defaulted, hit.argmax(axis=1) + 1, 0)
    default_date = np.where(defaulted, timeline.day_in_month(m0 + first, rng), np.datetime64("NaT"))
    default_date = np.where(default_date > timeline.end_date, np.datetime64("NaT"), default_date)
    defaulted &= ~np.isnat(default_date)
    days_since = (timeline.end_date - default_date).astype("timedelta64[D]").astype(float)
    stress = sigmoid(-2.5 - 1.2 * paths.health[rows, m0])
    late = np.where(rng.random(len(rows)) < stress, rng.integers(1, 60, len(rows)), 0)
    max_dpd = np.where(defaulted, 90 + np.clip(np.nan_to_num(days_since), 0, 270), late).astype(
        np.int64
    )
    written_off = defaulted & (np.nan_to_num(days_since) > 180) & (rng.random(len(rows)) < 0.3)
    amount = np.minimum(app["requested"][ok], app["limit"][ok])
    return {
        "ok": ok,
        "row": rows,
        "bank": app["bank"][ok],
        "start": start,
        "amount": amount,
        "max_dpd": max_dpd,
        "defaulted": defaulted,
        "default_date": default_date,
        "written_off": written_off,
    }


def bank_rows(config: SynthConfig) -> dict[str, list[str]]:
    """The banks table: id, name and the incumbent policy as JSON."""
    return {
        "bank_id": [b.bank_id for b in config.banks],
        "name": [b.name for b in config.banks],
        "policy": [
            json.dumps(asdict(b) | {"rule": "tax_multiplier"}, ensure_ascii=False)
            for b in config.banks
        ],
    }
