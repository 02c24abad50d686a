"""Pre-approved limits and decisions for a batch: capacity x PD multiplier, capped, gated.

limit = round_down_1000(min(capacity_base x multiplier(PD), cap[entity type])). Any failed gate
declines, then PD above `refer_max_pd`, then a limit below `min_limit_cny`; a decline is a
decision with limit 0. `binding` names the one rule that set the limit; `drivers` name the
inputs behind it, each with a role: "capacity", "multiplier" (the PD), "cap" (entity type),
"gate" (the failing input) or "decision" (the PD, when it is above `refer_max_pd`).
A court debtor whose debts a reorganisation plan in execution covers passes the court-debtor
gate under `gates.reorganisation_plan: refer` and is referred (never approved), with the plan
as a "decision" driver. Every step is element-wise, so a row gives the same answer alone and
inside any batch.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, fields
from functools import lru_cache
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pandas import DataFrame

from catalog.errors import InvalidInput
from catalog.schema import ENTITY_TYPES, INDUSTRY_SECTIONS, TAX_GRADES
from models.policy import CapacityPolicy, GatePolicy, MultiplierStep, ProductPolicy

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
StrArray = NDArray[np.str_]
Columns = Mapping[str, FloatArray]
Driver = dict[str, str | float | None]

ROUNDING_CNY = 1_000.0
# Declines a bank never lends to, not even to learn: legal bars and excluded sectors.
LEGAL_BARS = frozenset({"gate:unknown_entity", "gate:deregistered", "gate:court_debtor",
                        "gate:serious_dishonesty", "gate:abnormal_operations",
                        "gate:excluded_industry"})  # fmt: skip
ENTITY_TYPE = "reg_entity_type"
CAPACITY_INPUTS = {  # source code -> feature; order breaks ties
    "capacity:tax": "tax_paid_cny_24m",
    "capacity:revenue": "tax_revenue_cny_12m",
    "capacity:headcount": "si_headcount_latest",
}
NO_CAPACITY = "capacity:none"
OUT_OF_SCOPE = "scope:limit_basis"  # no capacity input within the model's data scope: refer
REVENUE = CAPACITY_INPUTS["capacity:revenue"]


def _grade_score(grade: str) -> float:
    """`tax_grade_latest` scores A=5 ... D=1."""
    return float(len(TAX_GRADES) - TAX_GRADES.index(grade))


def _flag(feature: str) -> Callable[[GatePolicy, Columns], BoolArray]:
    return lambda _, c: c[feature] == 1.0


def _too_young(g: GatePolicy, c: Columns) -> BoolArray:
    is_m = c["tax_grade_latest"] == _grade_score("M")
    required = np.where(is_m, g.min_age_months_grade_m, g.min_age_months)
    return c["reg_age_months"] < required  # missing age: gate:unknown_entity decides


PLAN_INPUTS = ("reorg_plan_in_force", "reorg_accepted_days", "court_newest_filing_days")
"""Inputs of the reorganisation-plan rule; a model without them (older) sees no plan."""
PLAN_DRIVER = "reorg_plan_in_force"


def plan_covers_court_debts(c: Columns) -> BoolArray:
    """Listed as a court debtor, with a reorganisation plan in execution whose case the court
    accepted on or after the filing of every court-debtor case in force (debts the plan covers).
    """
    covered = (
        (c["court_in_force"] == 1.0)
        & (c["reorg_plan_in_force"] == 1.0)
        & (c["court_newest_filing_days"] >= c["reorg_accepted_days"])  # NaN: not covered
    )
    return np.asarray(covered, dtype=bool)


def _court_debtor(g: GatePolicy, c: Columns) -> BoolArray:
    listed = np.asarray(c["court_in_force"] == 1.0, dtype=bool)
    if g.reorganisation_plan == "refer":
        return listed & ~plan_covers_court_debts(c)
    return listed


def is_in(values: FloatArray, codes: Sequence[float]) -> BoolArray:
    """`np.isin(values, codes)` for a few codes: one comparison per code, no set machinery."""
    out = np.zeros(values.shape, dtype=bool)
    for code in codes:
        out |= values == code
    return out


def _in(feature: str, codes: Callable[[GatePolicy], list[float]]) -> Callable[..., BoolArray]:
    return lambda g, c: is_in(c[feature], codes(g))


@dataclass(frozen=True)
class Gate:
    """A hard rule: its stable code, the input it reads and when it fails."""

    code: str
    feature: str
    enabled: Callable[[GatePolicy], bool]
    fails: Callable[[GatePolicy, Columns], BoolArray]
    extra_inputs: tuple[str, ...] = ()


GATES = (
    Gate("gate:unknown_entity", "reg_age_months", lambda g: g.known_entity,
         lambda _, c: np.isnan(c["reg_age_months"])),
    Gate("gate:deregistered", "reg_deregistered", lambda g: g.not_deregistered,
         _flag("reg_deregistered")),
    Gate("gate:court_debtor", "court_in_force", lambda g: g.no_court_debtor, _court_debtor,
         extra_inputs=PLAN_INPUTS),
    Gate("gate:serious_dishonesty", "dis_in_force", lambda g: g.no_serious_dishonesty,
         _flag("dis_in_force")),
    Gate("gate:abnormal_operations", "abn_in_force", lambda g: g.no_abnormal_operations,
         _flag("abn_in_force")),
    Gate("gate:tax_grade", "tax_grade_latest", lambda g: bool(g.excluded_tax_grades),
         _in("tax_grade_latest", lambda g: [_grade_score(t) for t in g.excluded_tax_grades])),
    Gate("gate:no_tax_paid", "tax_paid_cny_12m", lambda g: g.require_tax_paid_12m,
         lambda _, c: ~(c["tax_paid_cny_12m"] > 0)),
    Gate("gate:min_age", "reg_age_months", lambda g: g.min_age_enabled, _too_young,
         extra_inputs=("tax_grade_latest",)),
    Gate("gate:excluded_industry", "reg_industry", lambda g: bool(g.excluded_industries),
         _in("reg_industry",
             lambda g: [float(INDUSTRY_SECTIONS.index(s)) for s in g.excluded_industries])),
)  # fmt: skip
GATE_CODES = tuple(g.code for g in GATES)
GATE_BY_CODE = {g.code: g for g in GATES}


@dataclass(frozen=True)
class LimitResult:
    """Equal-length per-row outputs of `decide`."""

    decision: StrArray
    limit_cny: FloatArray
    capacity_cny: FloatArray
    capacity_source: StrArray
    multiplier: FloatArray
    cap_cny: FloatArray
    binding: StrArray
    failed_gates: list[list[str]]
    drivers: list[list[Driver]]

    def __len__(self) -> int:
        return len(self.decision)

    def to_records(self) -> list[dict[str, Any]]:
        """One plain (JSON-ready) dict per row."""
        columns = {f.name: getattr(self, f.name) for f in fields(self)}
        columns = {k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in columns.items()}
        return [dict(zip(columns, row, strict=True)) for row in zip(*columns.values(), strict=True)]


def decide(
    policy: ProductPolicy,
    features: DataFrame | Columns,
    pd: ArrayLike,
    available: Collection[str] | None = None,
) -> LimitResult:
    """Decision, limit and the binding rule per row of `features` (a frame or column arrays).

    `available`: the inputs within the model's data scope (None: all). A gate whose input is
    outside it is not applied; without any capacity input in scope no limit can be computed,
    and a row that passes every gate and the PD rule is referred with limit 0 (`OUT_OF_SCOPE`).
    """
    available = None if available is None else frozenset(available)
    cols = _scoped_columns(features, policy, available)
    pds = _checked_pd(pd, len(cols[ENTITY_TYPE]))
    capacity, source = _capacity(policy.capacity, cols)
    multiplier = _multiplier(policy.pd_multiplier, pds)
    cap, cap_code = _caps(policy.caps_cny, cols[ENTITY_TYPE])
    cap, cap_code = _revenue_cap(policy.capacity.max_revenue_share, cols[REVENUE], cap, cap_code)
    computed = _round_down(np.minimum(capacity * multiplier, cap))
    gate_matrix = _gate_matrix(policy.gates, cols, _absent(available))
    by_gate, by_pd = gate_matrix.any(axis=1), pds > policy.decision.refer_max_pd
    failed: list[list[str]] = [[] for _ in range(len(pds))]
    for i in np.flatnonzero(by_gate).tolist():  # most rows fail no gate
        failed[i] = [GATE_CODES[j] for j in np.flatnonzero(gate_matrix[i])]
    no_basis = np.full(len(pds), _no_basis(available))
    too_small = ((computed < policy.min_limit_cny) | (computed <= 0.0)) & ~no_basis
    capped = (capacity * multiplier > cap) & ~no_basis
    computed_by = np.where(no_basis, OUT_OF_SCOPE, np.where(capped, cap_code, source))
    binding = _binding(failed, by_pd, too_small, computed_by)
    declined = by_gate | by_pd | too_small
    by_plan = _plan_referrals(policy.gates, cols, _absent(available)) & ~declined
    approve = (pds <= policy.decision.approve_max_pd) & ~no_basis & ~by_plan
    decision = np.where(declined, "decline", np.where(approve, "approve", "refer"))
    rules = zip(binding.tolist(), failed, source.tolist(), capped.tolist(), strict=True)
    drivers = [
        _drivers(i, _RowRule(*rule), cols, float(p))
        + ([_driver(PLAN_DRIVER, cols, i, "decision")] if by_plan[i] else [])
        for i, (rule, p) in enumerate(zip(rules, pds, strict=True))
    ]
    return LimitResult(
        decision,
        np.where(declined | no_basis, 0.0, computed),
        capacity,
        source,
        multiplier,
        cap,
        binding,
        failed,
        drivers,
    )


def _plan_referrals(policy: GatePolicy, cols: Columns, absent: Collection[str]) -> BoolArray:
    """Rows the court-debtor gate lets through because a plan covers their debts: referred."""
    gate = GATE_BY_CODE["gate:court_debtor"]
    if policy.reorganisation_plan != "refer" or not gate_applies(gate, policy, absent):
        return np.zeros(len(cols[ENTITY_TYPE]), dtype=bool)
    return plan_covers_court_debts(cols)


def _absent(available: Collection[str] | None) -> frozenset[str]:
    """Inputs outside the data scope (none when every input is available)."""
    if available is None:
        return frozenset()
    return _absent_of(frozenset(available))


@lru_cache(maxsize=256)
def _absent_of(available: frozenset[str]) -> frozenset[str]:
    """`_absent` once per data scope (keyed by value, never by object identity)."""
    return frozenset(n for n in _all_inputs() if n not in available)


def _no_basis(available: Collection[str] | None) -> bool:
    """True when no capacity input is within the data scope."""
    return available is not None and not any(f in available for f in CAPACITY_INPUTS.values())


@lru_cache(maxsize=1)
def _all_inputs() -> tuple[str, ...]:
    names = [*CAPACITY_INPUTS.values(), ENTITY_TYPE]
    for gate in GATES:
        names += [gate.feature, *gate.extra_inputs]
    return tuple(dict.fromkeys(names))


def _scoped_columns(
    features: DataFrame | Columns, policy: ProductPolicy, available: Collection[str] | None
) -> dict[str, FloatArray]:
    """The inputs `decide` reads; those outside the data scope as NaN (never read from rows)."""
    names = required_inputs(policy, available)
    cols = _columns(features, names)
    n = len(cols[ENTITY_TYPE])
    for name in required_inputs(policy):
        if name not in cols:  # a NaN column only where one is missing (one row: 16 fewer calls)
            cols[name] = np.full(n, np.nan)
    return cols


def _binding(
    failed: list[list[str]], by_pd: BoolArray, too_small: BoolArray, computed_by: StrArray
) -> StrArray:
    """The one rule per row, in precedence: first failed gate, PD, minimum, cap or capacity."""
    binding = np.where(too_small, "min_limit", computed_by)
    binding = np.where(by_pd, "pd:decline", binding)
    first_gate = np.array([f[0] if f else "" for f in failed], dtype=np.str_)
    return np.where(first_gate != "", first_gate, binding)


def required_inputs(policy: ProductPolicy, available: Collection[str] | None = None) -> list[str]:
    """Feature columns `decide` reads under this policy (inputs of switched-off gates excluded;
    with `available`, only those within the data scope)."""
    enabled = tuple(gate.enabled(policy.gates) for gate in GATES)
    return list(_required(enabled, None if available is None else frozenset(available)))


@lru_cache(maxsize=256)
def _required(enabled: tuple[bool, ...], available: frozenset[str] | None) -> tuple[str, ...]:
    """`required_inputs` for the gates switched on (computed once per policy shape and scope)."""
    names = [*CAPACITY_INPUTS.values(), ENTITY_TYPE]
    for gate, on in zip(GATES, enabled, strict=True):
        if on:
            names += [gate.feature, *gate.extra_inputs]
    unique = list(dict.fromkeys(names))
    return tuple(unique if available is None else [n for n in unique if n in available])


def _checked_pd(pd: ArrayLike, n: int) -> FloatArray:
    values = np.asarray(pd, dtype=np.float64)
    if values.shape != (n,):
        raise InvalidInput(
            f"pd: expected {n} values, one per feature row, got shape {values.shape}"
        )
    if not np.all((values >= 0.0) & (values <= 1.0)):
        raise InvalidInput("pd: every PD must be a number in [0, 1]")
    return values


def _columns(features: DataFrame | Columns, names: Sequence[str]) -> dict[str, FloatArray]:
    present = features.columns if isinstance(features, DataFrame) else features.keys()
    missing = [n for n in names if n not in present and n not in PLAN_INPUTS]
    names = [n for n in names if n in present]
    if missing:
        raise InvalidInput(f"features: missing columns {missing}")
    try:
        if isinstance(features, DataFrame):
            return {n: features[n].to_numpy(dtype=np.float64, na_value=np.nan) for n in names}
        return {n: np.asarray(features[n], dtype=np.float64) for n in names}
    except (TypeError, ValueError):
        raise InvalidInput(f"features: columns {list(names)} must be numeric") from None


def _zero_nan(values: FloatArray) -> FloatArray:
    """Missing (NaN) as 0; infinities are left alone (the checks upstream refuse them)."""
    return np.where(np.isnan(values), 0.0, values)


def _capacity(policy: CapacityPolicy, cols: Columns) -> tuple[FloatArray, StrArray]:
    """Largest available component; a missing or negative input counts as 0."""
    tax, revenue, heads = (_zero_nan(cols[f]) for f in CAPACITY_INPUTS.values())
    components = np.column_stack(
        [
            policy.tax_multiple * tax / 2.0,
            policy.revenue_share * revenue,
            policy.per_head_cny * heads,
        ]
    ).clip(min=0.0)
    capacity = components.max(axis=1, initial=0.0)
    codes = np.array(list(CAPACITY_INPUTS), dtype=np.str_)
    source = np.where(capacity > 0.0, codes[components.argmax(axis=1)], NO_CAPACITY)
    return capacity, source


def _multiplier(steps: Sequence[MultiplierStep], pds: FloatArray) -> FloatArray:
    """Multiplier of the first step whose max_pd >= PD."""
    bounds = np.array([s.max_pd for s in steps])
    multipliers = np.array([s.multiplier for s in steps], dtype=np.float64)
    return multipliers[np.searchsorted(bounds, pds, side="left")]


_CAP_CODES = np.array([f"cap:{t}" for t in ENTITY_TYPES], dtype=np.str_)
_TYPE_INDEX = tuple(float(i) for i in range(len(ENTITY_TYPES)))


def _caps(caps: Mapping[str, float], entity_type: FloatArray) -> tuple[FloatArray, StrArray]:
    """Cap per row; an unknown entity type gets the smallest cap."""
    values = np.array([caps[t] for t in ENTITY_TYPES], dtype=np.float64)
    codes = _CAP_CODES
    known = is_in(entity_type, _TYPE_INDEX)
    index = np.where(known, entity_type, 0.0).astype(np.int64)
    return (
        np.where(known, values[index], values.min()),
        np.where(known, codes[index], "cap:unknown"),
    )


def _revenue_cap(
    share: float, revenue: FloatArray, cap: FloatArray, code: StrArray
) -> tuple[FloatArray, StrArray]:
    """The working-capital ceiling: share x declared revenue (missing revenue: 0), if lower."""
    if share <= 0.0:
        return cap, code
    ceiling = share * _zero_nan(revenue)
    lower = ceiling < cap
    return np.where(lower, ceiling, cap), np.where(lower, "cap:revenue", code)


def _round_down(amount: FloatArray) -> FloatArray:
    # Rounding to cents first keeps float noise (599999.9999...) from dropping a whole step.
    return np.floor(np.round(amount, 2) / ROUNDING_CNY) * ROUNDING_CNY


def gate_applies(gate: Gate, policy: GatePolicy, absent: Collection[str] = ()) -> bool:
    """An enabled gate whose input is within the data scope."""
    return gate.enabled(policy) and gate.feature not in absent


def _gate_matrix(policy: GatePolicy, cols: Columns, absent: Collection[str] = ()) -> BoolArray:
    """Rows x GATES: True where an applicable gate fails."""
    n = len(cols[ENTITY_TYPE])
    return np.column_stack(
        [
            g.fails(policy, cols) if gate_applies(g, policy, absent) else np.zeros(n, dtype=bool)
            for g in GATES
        ]
    ).reshape(n, len(GATES))


class _RowRule(NamedTuple):
    """Row i's binding rule, failed gates, capacity source and whether its cap bound."""

    binding: str
    failed: list[str]
    source: str
    capped: bool


def _drivers(i: int, rule: _RowRule, cols: Columns, pd: float) -> list[Driver]:
    """The inputs behind row i's limit, the binding one first."""
    binding, failed, source, capped = rule
    if failed:
        return [_driver(GATE_BY_CODE[code].feature, cols, i, "gate") for code in failed]
    if binding in ("pd:decline", OUT_OF_SCOPE):
        return [{"feature": "pd", "value": pd, "role": "decision"}]
    cap_feature = REVENUE if binding == "cap:revenue" else ENTITY_TYPE
    out = [_driver(cap_feature, cols, i, "cap")] if capped else []
    named = [CAPACITY_INPUTS[source]] if source in CAPACITY_INPUTS else CAPACITY_INPUTS.values()
    out += [_driver(f, cols, i, "capacity") for f in named]
    return [*out, {"feature": "pd", "value": pd, "role": "multiplier"}]


def _driver(feature: str, cols: Columns, i: int, role: str) -> Driver:
    value = float(cols[feature][i])
    return {"feature": feature, "value": None if np.isnan(value) else value, "role": role}
