"""Adverse public records driven by health: penalties, court debtors, list entries."""

from __future__ import annotations

import numpy as np

from catalog.schema import INDUSTRY_SECTIONS, PENALTY_DOMAINS, PENALTY_TYPES, SEVERITIES
from synthetic.finance import Frame, cells
from synthetic.health import HealthPaths, sigmoid
from synthetic.population import Population
from synthetic.timeline import Timeline

PUBLICITY_DAYS = {"minor": 91, "general": 365, "serious": 1095}  # DOMAIN.md §4 maxima
REPAIR_AFTER_DAYS = {"general": (91, 365), "serious": (365, 1095)}  # min wait .. max
REPAIR_SHARE = {"general": 0.35, "serious": 0.2}
INDUSTRY_PENALTY_RATE = {"C": 1.6, "H": 1.8, "E": 1.7, "F": 1.0, "A": 0.7, "K": 1.2, "G": 1.3}
DOMAINS_BY_INDUSTRY = {
    "C": ("environment", "work_safety", "market", "fire", "labour"),
    "H": ("food_drug", "fire", "market"),
    "E": ("construction", "work_safety", "labour", "environment"),
    "F": ("market", "tax", "food_drug", "customs"),
    "G": ("transport", "work_safety", "market"),
    "default": ("market", "tax", "fire", "labour"),
}
TYPES_BY_SEVERITY = {
    "minor": ({"warning": 0.7, "fine": 0.3}),
    "general": ({"fine": 0.8, "confiscation": 0.15, "suspension": 0.05}),
    "serious": ({"fine": 0.5, "suspension": 0.3, "revocation": 0.2}),
}
# Heavily inspected sectors are penalised whatever their health; elsewhere a penalty
# signals distress [I].
PENALTY_HEALTH_SLOPE = {"H": 0.2, "E": 0.25, "C": 0.3}
FINE_MEDIAN = {"minor": 800.0, "general": 8_000.0, "serious": 100_000.0}


def _domains(rng: np.random.Generator, industry: np.ndarray) -> np.ndarray:
    out = np.empty(len(industry), dtype=np.int64)
    for i, section in enumerate(industry):
        pool = DOMAINS_BY_INDUSTRY.get(INDUSTRY_SECTIONS[section], DOMAINS_BY_INDUSTRY["default"])
        out[i] = PENALTY_DOMAINS.index(pool[rng.integers(len(pool))])
    return out


def _penalty_types(rng: np.random.Generator, severity: np.ndarray) -> np.ndarray:
    out = np.empty(len(severity), dtype=np.int64)
    for s, name in enumerate(SEVERITIES):
        mask = severity == s
        mix = TYPES_BY_SEVERITY[name]
        picks = rng.choice(list(mix), size=int(mask.sum()), p=list(mix.values()))
        out[mask] = [PENALTY_TYPES.index(p) for p in picks]
    return out


def _repairs(
    rng: np.random.Generator, severity: np.ndarray, decided: np.ndarray, health: np.ndarray
) -> np.ndarray:
    repair = np.full(len(severity), np.datetime64("NaT"), dtype="datetime64[D]")
    for name, (low, high) in REPAIR_AFTER_DAYS.items():
        mask = (severity == SEVERITIES.index(name)) & (
            rng.random(len(severity)) < REPAIR_SHARE[name] * 2 * sigmoid(health + 0.5)
        )
        repair[mask] = decided[mask] + rng.integers(low, high, size=int(mask.sum()))
    return repair


def penalties(
    rng: np.random.Generator, pop: Population, paths: HealthPaths, timeline: Timeline
) -> Frame:
    """Administrative penalties; worse health means more and more serious ones."""
    industry_rate = np.array([INDUSTRY_PENALTY_RATE.get(s, 0.8) for s in INDUSTRY_SECTIONS])
    slope = np.array([PENALTY_HEALTH_SLOPE.get(s, 0.9) for s in INDUSTRY_SECTIONS])[pop.industry][
        :, None
    ]
    rate = 0.0025 * industry_rate[pop.industry][:, None] * np.exp(-slope * paths.health)
    rows, m = cells(paths.alive & (rng.random(paths.health.shape) < rate))
    health = paths.health[rows, m]
    u = rng.random(len(rows))
    p_serious = np.clip(0.04 * np.exp(-0.6 * health), 0, 0.4)
    severity = np.where(u < p_serious, 2, np.where(u < p_serious + 0.35, 0, 1))
    decided = timeline.day_in_month(m, rng)
    fine_median = np.array([FINE_MEDIAN[s] for s in SEVERITIES])[severity]
    ptype = _penalty_types(rng, severity)
    fine = np.where(ptype == 0, 0.0, fine_median * np.exp(0.9 * rng.standard_normal(len(rows))))
    confiscated = (severity > 0) & (rng.random(len(rows)) < 0.2)
    publicity = np.array([PUBLICITY_DAYS[s] for s in SEVERITIES])[severity]
    return {
        "eidx": pop.eidx[rows],
        "decision_date": decided,
        "severity": severity,
        "penalty_type": ptype,
        "domain": _domains(rng, pop.industry[rows]),
        "fine_cny": fine.round(-1),
        "confiscation_cny": np.where(confiscated, fine * rng.uniform(0.2, 2.0, len(rows)), 0).round(
            -1
        ),
        "publicity_end": decided + publicity,
        "repair_date": _repairs(rng, severity, decided, health),
        "event": decided,
    }


def court_debtors(
    rng: np.random.Generator, pop: Population, paths: HealthPaths, timeline: Timeline
) -> Frame:
    """Dishonest-debtor listings after distress; a removal is a second version of the record."""
    rows, m = cells(paths.distress & (rng.random(paths.health.shape) < 0.35))
    filed = timeline.day_in_month(m + rng.integers(2, 7, size=len(rows)), rng)
    published = filed + rng.integers(15, 90, size=len(rows))
    obligation = (0.05 * pop.size[rows] * np.exp(rng.standard_normal(len(rows)))).round(-2)
    partly = rng.random(len(rows)) < 0.2
    removed = published + rng.integers(90, 900, size=len(rows))
    removed_ok = rng.random(len(rows)) < 0.45
    seq = np.arange(len(rows))
    first = {
        "eidx": pop.eidx[rows],
        "seq": seq,
        "version": np.ones(len(rows), np.int64),
        "filing_date": filed,
        "publish_date": published,
        "obligation_cny": obligation,
        "performance": np.where(partly, 1, 2),
        "removed_date": np.full(len(rows), np.datetime64("NaT"), "datetime64[D]"),
        "event": published,
    }
    second = {k: v[removed_ok] for k, v in first.items()}
    second |= {
        "version": np.full(int(removed_ok.sum()), 2),
        "performance": np.zeros(int(removed_ok.sum()), np.int64),
        "removed_date": removed[removed_ok],
        "event": removed[removed_ok],
    }
    return {k: np.concatenate([first[k], second[k]]) for k in first}


def _list_entries(
    rng: np.random.Generator,
    rows: np.ndarray,
    listed: np.ndarray,
    reasons: np.ndarray,
    removal: tuple[float, int, int],
) -> Frame:
    share, low, high = removal
    removed = listed + rng.integers(low, high, size=len(rows))
    keep = rng.random(len(rows)) < share
    return {
        "eidx": rows,
        "listed_date": listed,
        "reason": reasons,
        "removed_date": np.where(keep, removed, np.datetime64("NaT")),
        "event": listed,
    }


def abnormal_operations(
    rng: np.random.Generator, pop: Population, paths: HealthPaths, timeline: Timeline
) -> Frame:
    """Annual-report failures every July, and 'unreachable at address' after distress."""
    calendar = (timeline.first_month + np.arange(timeline.n_months)).astype(int) % 12
    july = np.zeros_like(paths.alive)
    july[:, calendar == 6] = True
    shift = 0.6 * pop.is_type("individual")[:, None]
    p_report = sigmoid(-3.9 - 0.9 * paths.health + shift)
    r1, m1 = cells(july & paths.alive & (rng.random(july.shape) < p_report))
    r2, m2 = cells(paths.distress & (rng.random(july.shape) < 0.2))
    rows = np.concatenate([r1, r2])
    listed = np.concatenate(
        [
            timeline.day_in_month(m1, rng),
            timeline.day_in_month(m2 + rng.integers(1, 5, len(m2)), rng),
        ]
    )
    reasons = np.array(
        ["未按规定报送年度报告"] * len(r1) + ["通过登记的住所或者经营场所无法联系"] * len(r2),
        dtype=object,
    )
    share = np.concatenate([np.full(len(r1), 0.55), np.full(len(r2), 0.2)])
    frame = _list_entries(rng, pop.eidx[rows], listed, reasons, (1.0, 30, 420))
    frame["removed_date"] = np.where(
        rng.random(len(rows)) < share, frame["removed_date"], np.datetime64("NaT")
    )
    return frame


def serious_dishonesty(
    rng: np.random.Generator,
    pop: Population,
    paths: HealthPaths,
    timeline: Timeline,
    penalty: Frame,
) -> Frame:
    """Serious-dishonesty listings after distress or a serious penalty (rare)."""
    rows, m = cells(paths.distress & (rng.random(paths.health.shape) < 0.04))
    listed = timeline.day_in_month(m + rng.integers(3, 13, size=len(m)), rng)
    pos = {e: i for i, e in enumerate(pop.eidx)}
    serious = (penalty["severity"] == 2) & (rng.random(len(penalty["severity"])) < 0.08)
    p_rows = np.array([pos[e] for e in penalty["eidx"][serious]], dtype=np.int64)
    p_listed = penalty["decision_date"][serious] + rng.integers(30, 90, size=len(p_rows))
    reasons = np.array(
        ["严重失信被执行"] * len(rows) + ["严重违法失信行为"] * len(p_rows), dtype=object
    )
    all_rows = np.concatenate([rows, p_rows])
    return _list_entries(
        rng, pop.eidx[all_rows], np.concatenate([listed, p_listed]), reasons, (0.5, 365, 1095)
    )


REORGANISATION_SHARE = 0.4  # court-debtor enterprises that go through a reorganisation [I]


def reorganisation_plans(
    rng: np.random.Generator, pop: Population, court: Frame, timeline: Timeline
) -> Frame:
    """Court-approved reorganisation plans of some enterprises listed as court debtors.

    The court accepts the reorganisation some months after the first case was filed (so the
    listed debts are the plan's), approves the plan within 3-9 months (企业破产法 art. 79: the
    plan is due 6 months after the order, 3 more on request),
    and the plan runs 1-3 years; about one in ten is terminated early (art. 93).
    """
    first = court["version"] == 1
    by_date = np.argsort(court["filing_date"][first], kind="stable")
    eidx, order = np.unique(court["eidx"][first][by_date], return_index=True)
    filed = court["filing_date"][first][by_date][order]  # each entity's first case
    pos = {e: i for i, e in enumerate(pop.eidx)}
    enterprise = pop.is_type("enterprise")[[pos[e] for e in eidx]].astype(bool)
    chosen = enterprise & (rng.random(len(eidx)) < REORGANISATION_SHARE)
    eidx, filed = eidx[chosen], filed[chosen]
    n = len(eidx)
    accepted = filed + rng.integers(30, 240, size=n)
    approved = accepted + rng.integers(90, 270, size=n)
    execution_end = approved + rng.integers(365, 1095, size=n)
    terminated = approved + (rng.random(n) * (execution_end - approved).astype(float)).astype(int)
    early = rng.random(n) < 0.1
    keep = approved <= np.datetime64(timeline.end_date)
    frame = {
        "eidx": eidx,
        "accepted_date": accepted,
        "approved_date": approved,
        "execution_end": execution_end,
        "terminated_date": np.where(early, terminated, np.datetime64("NaT")),
        "event": approved,
    }
    return {k: v[keep] for k, v in frame.items()}
