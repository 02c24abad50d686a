"""Who is registered in the synthetic city: types, places, industries, ages, sizes, codes."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from catalog import uscc
from catalog.schema import ENTITY_TYPES, INDUSTRY_SECTIONS
from synthetic.config import DIVISIONS, TYPE_MIX, SynthConfig

# GB/T 4754 section mix per entity type [I]; unlisted sections share the remainder.
INDUSTRY_MIX: dict[str, dict[str, float]] = {
    "enterprise": {"C": 0.18, "E": 0.08, "F": 0.33, "H": 0.06, "I": 0.03, "K": 0.03,
                   "L": 0.10, "M": 0.02, "G": 0.03, "A": 0.04, "J": 0.01, "R": 0.02},
    "individual": {"F": 0.55, "H": 0.18, "O": 0.12, "A": 0.05, "C": 0.04, "R": 0.02},
    "cooperative": {"A": 0.90, "C": 0.05},
    "rural_collective": {"A": 0.50, "L": 0.30, "K": 0.20},
}  # fmt: skip
# Effect of the industry on latent health (riskier sectors below zero) [I]. GB/T 4754-2017:
# C manufacturing, E construction, F wholesale/retail, G transport, H hotels/catering, K real estate.
INDUSTRY_EFFECT = {"H": -0.20, "K": -0.30, "E": -0.15, "R": -0.10, "I": 0.10, "M": 0.10, "D": 0.30}
TYPE_EFFECT = {
    "enterprise": 0.0,
    "individual": -0.25,
    "cooperative": -0.15,
    "rural_collective": 0.1,
}
# Median annual revenue at neutral health, CNY [I]; log-sd alongside.
SIZE = {"enterprise": (2.5e6, 1.1), "individual": (2.5e5, 0.8), "cooperative": (6e5, 0.9),
        "rural_collective": (1e6, 0.9)}  # fmt: skip
CAPITAL = {"enterprise": (1e6, 1.2), "individual": (5e4, 1.0), "cooperative": (5e5, 1.0),
           "rural_collective": (2e6, 1.0)}  # fmt: skip
# How strongly revenue follows health: cyclical sectors closely, utilities and farming hardly [I].
REVENUE_SENSITIVITY = {"E": 0.7, "K": 0.8, "H": 0.6, "F": 0.45, "C": 0.4, "A": 0.15, "D": 0.1}
EMPLOYER_SHARE = {
    "enterprise": 0.75,
    "individual": 0.15,
    "cooperative": 0.6,
    "rural_collective": 0.8,
}
UTILITY_SHARE = {
    "enterprise": 0.55,
    "individual": 0.35,
    "cooperative": 0.5,
    "rural_collective": 0.5,
}
NEW_SHARE = {"enterprise": 0.35, "individual": 0.45, "cooperative": 0.25, "rural_collective": 0.05}
MEAN_AGE_MONTHS = {"enterprise": 84, "individual": 54, "cooperative": 72, "rural_collective": 240}
CODE_PREFIX = {"enterprise": ("9", "1"), "individual": ("9", "2"), "cooperative": ("9", "3"),
               "rural_collective": ("N", "2")}  # fmt: skip
NAME_SUFFIX = {"enterprise": "有限公司", "individual": "商行", "cooperative": "专业合作社",
               "rural_collective": "股份经济合作社"}  # fmt: skip
NAME_WORDS = tuple("恒达兴盛鸿运嘉信华泰顺发海丰陆河宏利永安金源富康明辉盈创新联合鑫")
DIVISION_NAMES = {"441500": "汕尾", "441502": "汕尾城区", "441521": "海丰县", "441523": "陆河县",
                  "441581": "陆丰市"}  # fmt: skip


@dataclass(frozen=True)
class Population:
    """Column arrays, one row per entity; `eidx` is the generator's integer key."""

    eidx: np.ndarray
    etype: np.ndarray  # index into ENTITY_TYPES
    division: np.ndarray  # index into DIVISIONS
    industry: np.ndarray  # index into INDUSTRY_SECTIONS
    founded_m: np.ndarray  # history month index of founding (negative: before history)
    founded_day: np.ndarray  # day of month 0..27
    capital: np.ndarray
    size: np.ndarray  # annual revenue at neutral health
    quality: np.ndarray  # permanent part of latent health
    employer: np.ndarray
    headcount0: np.ndarray
    shares_utilities: np.ndarray
    codes: np.ndarray  # object array of str
    names: np.ndarray

    def __len__(self) -> int:
        return len(self.eidx)

    def take(self, rows: slice | np.ndarray) -> Population:
        """The sub-population at `rows`."""
        return Population(**{f.name: getattr(self, f.name)[rows] for f in fields(self)})

    @property
    def revenue_sensitivity(self) -> np.ndarray:
        """Elasticity of each entity's revenue to its health."""
        table = np.array([REVENUE_SENSITIVITY.get(s, 0.35) for s in INDUSTRY_SECTIONS])
        return np.asarray(table[self.industry])

    def is_type(self, name: str) -> np.ndarray:
        """Mask of entities of one type."""
        return np.asarray(self.etype == ENTITY_TYPES.index(name))


def _by_type(etype: np.ndarray, table: dict[str, float]) -> np.ndarray:
    return np.array([table[ENTITY_TYPES[t]] for t in range(len(ENTITY_TYPES))])[etype]


def _choose(
    rng: np.random.Generator, mix: dict[str, float], n: int, labels: tuple[str, ...]
) -> np.ndarray:
    p = np.array([mix.get(label, 0.0) for label in labels])
    rest = (p == 0).sum()
    p[p == 0] = max(0.0, 1.0 - p.sum()) / rest if rest else 0.0
    return rng.choice(len(labels), size=n, p=p / p.sum())


def _industries(rng: np.random.Generator, etype: np.ndarray) -> np.ndarray:
    industry = np.empty(len(etype), dtype=np.int64)
    for t, name in enumerate(ENTITY_TYPES):
        mask = etype == t
        industry[mask] = _choose(rng, INDUSTRY_MIX[name], int(mask.sum()), INDUSTRY_SECTIONS)
    return industry


def _lognormal(
    rng: np.random.Generator,
    etype: np.ndarray,
    table: dict[str, tuple[float, float]],
    z: np.ndarray,
) -> np.ndarray:
    median = _by_type(etype, {k: v[0] for k, v in table.items()})
    sd = _by_type(etype, {k: v[1] for k, v in table.items()})
    return median * np.exp(sd * z)


def _founding(rng: np.random.Generator, etype: np.ndarray, n_months: int) -> np.ndarray:
    new = rng.random(len(etype)) < _by_type(etype, NEW_SHARE)
    age = np.ceil(rng.exponential(_by_type(etype, MEAN_AGE_MONTHS))).astype(np.int64)
    return np.where(new, rng.integers(0, n_months - 6, size=len(etype)), -age)


def _codes(rng: np.random.Generator, etype: np.ndarray, division: np.ndarray) -> np.ndarray:
    alphabet = np.array(list(uscc.CHARSET))
    bodies = alphabet[rng.integers(0, len(alphabet), size=(len(etype), 6))]
    divisions = list(DIVISIONS)
    out, seen = np.empty(len(etype), dtype=object), set()
    for i, (t, d) in enumerate(zip(etype, division, strict=True)):
        authority, kind = CODE_PREFIX[ENTITY_TYPES[t]]
        body = "MA" + "".join(bodies[i])
        while (code := uscc.build(authority, kind, divisions[d], body)) in seen:
            body = "MB" + "".join(alphabet[rng.integers(0, len(alphabet), size=6)])
        seen.add(code)
        out[i] = code
    return out


def _names(rng: np.random.Generator, etype: np.ndarray, division: np.ndarray) -> np.ndarray:
    words = np.array(NAME_WORDS)
    first, second = words[rng.integers(0, len(words), (2, len(etype)))]
    places = np.array([DIVISION_NAMES[d] for d in DIVISIONS])[division]
    suffix = np.array([NAME_SUFFIX[t] for t in ENTITY_TYPES])[etype]
    serial = rng.integers(1, 1000, size=len(etype)).astype(str)
    return np.char.add(
        np.char.add(np.char.add(places, first), np.char.add(second, serial)), suffix
    ).astype(object)


def build_population(config: SynthConfig) -> Population:
    """Draw every entity of the synthetic city (deterministic in `config.seed`)."""
    rng = np.random.default_rng([config.seed, 1])
    n = config.entities
    etype = _choose(rng, TYPE_MIX, n, ENTITY_TYPES)
    division = rng.choice(len(DIVISIONS), size=n, p=np.array(list(DIVISIONS.values())))
    industry = _industries(rng, etype)
    z_size, z_cap, z_q = rng.standard_normal((3, n))
    size = _lognormal(rng, etype, SIZE, 0.8 * z_size + 0.6 * z_cap)
    quality = (
        _by_type(etype, TYPE_EFFECT)
        + np.array([INDUSTRY_EFFECT.get(s, 0.0) for s in INDUSTRY_SECTIONS])[industry]
        + 0.12 * z_size
        + 0.8 * z_q
    )
    employer = rng.random(n) < _by_type(etype, EMPLOYER_SHARE)
    headcount0 = np.where(
        employer, np.clip(size / 3e5 * np.exp(0.4 * rng.standard_normal(n)), 1, 500), 0
    )
    return Population(
        eidx=np.arange(n, dtype=np.int64),
        etype=etype,
        division=division,
        industry=industry,
        founded_m=_founding(rng, etype, config.n_months),
        founded_day=rng.integers(0, 28, size=n),
        capital=_lognormal(rng, etype, CAPITAL, z_cap).round(-3),
        size=size,
        quality=quality,
        employer=employer,
        headcount0=headcount0,
        shares_utilities=rng.random(n) < _by_type(etype, UTILITY_SHARE),
        codes=_codes(rng, etype, division),
        names=_names(rng, etype, division),
    )
