"""Early-warning rules (work plan item 6), each declared once with its documented default.

A rule reads visible records (DOMAIN.md §4: repaired, expired, removed, retracted or
not-yet-ingested records never count) of its source tables within a window before as_of:

- `frequent`: at least `threshold` records in one domain;
- `cross_domain`: records in at least `threshold` distinct domains;
- `new_listing`: at least `threshold` listings published inside the window;
- `arrears`: at least `threshold` monthly records in arrears inside the window;
- `rating_drop`: the latest rating, published inside the window, at least `threshold`
  steps (A=5, B=4, M=3, C=2, D=1) below the one before it.

Windows and thresholds are overridable per platform from a YAML or TOML file (`load_rules`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from catalog import config_file
from catalog.errors import InvalidInput

Kind = Literal["frequent", "cross_domain", "new_listing", "arrears", "rating_drop"]
Severity = Literal["low", "medium", "high"]
VIOLATIONS = ("penalties", "court_debtors", "serious_dishonesty", "abnormal_operations")


@dataclass(frozen=True)
class WarningRule:
    """One rule: what it reads, over which window, from which threshold it fires."""

    code: str
    zh: str
    en: str
    kind: Kind
    sources: tuple[str, ...]
    window_months: int
    threshold: int
    severity: Severity


DEFAULT_RULES: tuple[WarningRule, ...] = (
    WarningRule("frequent_one_domain", "同一领域频繁违法", "Frequent violations in one domain",
                "frequent", ("penalties",), 12, 3, "medium"),
    WarningRule("violations_across_domains", "多个领域违法", "Violations across several domains",
                "cross_domain", VIOLATIONS, 24, 3, "high"),
    WarningRule("new_court_debtor", "新增失信被执行人", "New dishonest judgment debtor listing",
                "new_listing", ("court_debtors",), 3, 1, "high"),
    WarningRule("new_serious_dishonesty", "新列入严重失信主体名单",
                "New serious dishonesty listing", "new_listing", ("serious_dishonesty",), 3, 1,
                "high"),
    WarningRule("social_insurance_arrears", "社保欠费", "Social insurance arrears", "arrears",
                ("social_insurance",), 3, 2, "medium"),
    WarningRule("tax_rating_drop", "纳税信用等级下降", "Tax credit rating drop", "rating_drop",
                ("tax_ratings",), 12, 2, "medium"),
)  # fmt: skip


class _Override(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    window_months: Annotated[int, Field(ge=1, le=120)] | None = None
    threshold: Annotated[int, Field(ge=1, le=1000)] | None = None
    severity: Severity | None = None
    enabled: bool = True


def with_overrides(
    overrides: dict[str, Any], rules: tuple[WarningRule, ...] = DEFAULT_RULES, where: str = "rules"
) -> tuple[WarningRule, ...]:
    """`rules` with windows, thresholds or severities replaced, or switched off (enabled: false)."""
    known = {r.code for r in rules}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise InvalidInput(f"{where}: unknown rules {unknown}; known: {sorted(known)}")
    out = []
    for rule in rules:
        try:
            change = _Override.model_validate(overrides.get(rule.code) or {})
        except ValidationError as exc:
            first = exc.errors(include_url=False, include_input=False)[0]
            field = ".".join(str(p) for p in first["loc"])
            raise InvalidInput(f"{where}: {rule.code}.{field}: {first['msg']}") from None
        if change.enabled:
            fields = change.model_dump(exclude={"enabled"}, exclude_none=True)
            out.append(replace(rule, **fields))
    return tuple(out)


def load_rules(path: Path) -> tuple[WarningRule, ...]:
    """The default rules with the overrides of a `.yaml`/`.yml`/`.toml` file (rule code -> fields)."""
    data = config_file.read(path, "rules")
    if not isinstance(data, dict):
        raise InvalidInput(f"rules {path.name}: must map rule codes to overrides")
    return with_overrides(data, where=f"rules {path.name}")
