"""Registration changes, licences, honours and credit commitments."""

from __future__ import annotations

import numpy as np

from catalog.schema import CHANGE_TYPES, COMMITMENT_TYPES, INDUSTRY_SECTIONS
from synthetic.finance import Frame, cells
from synthetic.health import HealthPaths, sigmoid
from synthetic.population import Population
from synthetic.timeline import Timeline

CHANGE_MIX = (0.30, 0.20, 0.15, 0.20, 0.05, 0.10)  # in CHANGE_TYPES order
LICENCE_TYPES = {
    "H": "食品经营许可证", "C": "排污许可证", "E": "建筑业企业资质证书", "F": "烟草专卖零售许可证",
    "A": "农药经营许可证", "O": "公共场所卫生许可证", "G": "道路运输经营许可证",
}  # fmt: skip
NAT = np.datetime64("NaT")


def registration_changes(
    rng: np.random.Generator, pop: Population, paths: HealthPaths, timeline: Timeline
) -> Frame:
    """Changes of registered particulars; distress brings legal-representative changes."""
    rate = 0.006 * np.exp(-0.5 * paths.health)
    r1, m1 = cells(paths.alive & (rng.random(rate.shape) < rate))
    r2, m2 = cells(paths.distress & (rng.random(rate.shape) < 0.3))
    kind = np.concatenate(
        [
            rng.choice(len(CHANGE_TYPES), size=len(r1), p=CHANGE_MIX),
            np.full(len(r2), CHANGE_TYPES.index("legal_rep")),
        ]
    )
    months = np.concatenate([m1, m2 + rng.integers(0, 3, size=len(m2))])
    changed = timeline.day_in_month(months, rng)
    return {
        "eidx": pop.eidx[np.concatenate([r1, r2])],
        "change_type": kind,
        "change_date": changed,
        "event": changed,
    }


def licences(
    rng: np.random.Generator, pop: Population, paths: HealthPaths, timeline: Timeline
) -> Frame:
    """Licences granted at founding and when a business expands (healthier: more)."""
    founded = np.zeros_like(paths.alive)
    inside = (pop.founded_m >= 0) & (pop.founded_m < timeline.n_months)
    founded[np.nonzero(inside)[0], pop.founded_m[inside]] = True
    grow = paths.alive & (rng.random(founded.shape) < 0.004 * np.exp(0.3 * paths.health))
    rows, m = cells(founded | grow)
    granted = timeline.day_in_month(m, rng)
    years = rng.choice([3, 5], size=len(rows))
    kinds = np.array(
        [LICENCE_TYPES.get(s, "营业执照许可事项") for s in INDUSTRY_SECTIONS], dtype=object
    )
    return {
        "eidx": pop.eidx[rows],
        "licence_type": kinds[pop.industry[rows]],
        "decision_date": granted,
        "valid_from": granted,
        "valid_to": granted + 365 * years,
        "event": granted,
    }


def honours(
    rng: np.random.Generator,
    pop: Population,
    paths: HealthPaths,
    timeline: Timeline,
    ratings: Frame,
) -> Frame:
    """A-level taxpayer honours from A ratings; contract-abiding and other honours for the healthy."""
    a_rated = ratings["grade"] == 0 if ratings else np.zeros(0, bool)
    published = ratings["published_date"][a_rated] if ratings else np.zeros(0, "datetime64[D]")
    a_eidx = ratings["eidx"][a_rated] if ratings else np.zeros(0, np.int64)
    calendar = (timeline.first_month + np.arange(timeline.n_months)).astype(int)
    award_month = (calendar % 24) == 17  # every other June
    p_good = 0.25 * sigmoid(3 * (paths.health - 1.0))
    rows, m = cells(paths.alive & award_month[None, :] & (rng.random(paths.health.shape) < p_good))
    awarded = timeline.day_in_month(m, rng)
    kind = np.where(rng.random(len(rows)) < 0.8, 2, np.where(rng.random(len(rows)) < 0.5, 3, 4))
    return {
        "eidx": np.concatenate([a_eidx, pop.eidx[rows]]),
        "honour_type": np.concatenate([np.zeros(len(a_eidx), np.int64), kind]),
        "awarded_date": np.concatenate([published, awarded]),
        "valid_to": np.concatenate([published + 365, awarded + 730]),
        "event": np.concatenate([published, awarded]),
    }


def commitments(
    rng: np.random.Generator, pop: Population, paths: HealthPaths, timeline: Timeline
) -> Frame:
    """Credit commitments; their performance is assessed six months later (a new version)."""
    rows, m = cells(paths.alive & (rng.random(paths.health.shape) < 0.004))
    made = timeline.day_in_month(m, rng)
    later = np.minimum(m + 6, timeline.n_months - 1)
    breached = rng.random(len(rows)) < sigmoid(-3.0 - 1.5 * paths.health[rows, later])
    kind = rng.choice(len(COMMITMENT_TYPES), size=len(rows), p=(0.5, 0.2, 0.2, 0.1))
    seq = np.arange(len(rows))
    first = {
        "eidx": pop.eidx[rows],
        "seq": seq,
        "version": np.ones(len(rows), np.int64),
        "commitment_type": kind,
        "commitment_date": made,
        "status": np.ones(len(rows), np.int64),
        "status_date": made,
        "event": made,
    }
    assessed = made + 182
    second = dict(first) | {
        "version": np.full(len(rows), 2),
        "status": np.where(breached, 2, 0),
        "status_date": assessed,
        "event": assessed,
    }
    return {k: np.concatenate([first[k], second[k]]) for k in first}
