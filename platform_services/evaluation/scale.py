"""The evaluation scale: grades, caps and points rules per dimension, read from YAML or TOML.

Each dimension draws on named catalog categories (全国公共信用信息基础目录); each rule reads one
registry feature of those categories. `load_scale` refuses any file that breaks this, names an
unknown feature, or moves points the wrong way for a feature's registered risk direction.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from importlib import resources
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from catalog import config_file
from catalog.errors import InvalidInput
from catalog.schema import CATEGORIES
from features.definitions import REGISTRY
from features.registry import Feature, Registry

DEFAULT_SCALE_FILE = "default_scale.yaml"
Name = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,47}$")]
Text = Annotated[str, Field(min_length=1, max_length=200)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Grade(_Strict):
    """A grade label and the lowest score that earns it."""

    label: Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9+-]{0,3}$")]
    zh: Text
    en: Text
    min_score: Annotated[float, Field(ge=0.0)]


class Band(_Strict):
    """Points for values at or above `at_least` (down to the next band's bound)."""

    at_least: float
    points: float


class Rule(_Strict):
    """Points for one feature: once when at_least <= value <= at_most, per unit of value, or
    by bands (the first band whose at_least the value reaches; below all, the last band)."""

    id: Name
    feature: Name
    points: float = 0.0
    per_unit: bool = False
    at_least: float | None = None
    at_most: float | None = None
    max_units: Annotated[float, Field(gt=0.0)] | None = None
    bands: tuple[Band, ...] = ()

    @model_validator(mode="after")
    def _shape(self) -> Rule:
        bounded = self.at_least is not None or self.at_most is not None
        if self.bands:
            if bounded or self.per_unit or self.points or self.max_units is not None:
                raise ValueError(f"rule {self.id}: bands exclude points, bounds and per_unit")
            if any(b.at_least >= a.at_least for a, b in pairwise(self.bands)):
                raise ValueError(f"rule {self.id}: band bounds must fall strictly")
            return self
        if self.at_least is not None and self.at_most is not None and self.at_least > self.at_most:
            raise ValueError(f"rule {self.id}: at_least must be <= at_most")
        if not self.per_unit and not bounded:
            raise ValueError(f"rule {self.id}: a one-off rule needs at_least or at_most")
        if self.max_units is not None and not self.per_unit:
            raise ValueError(f"rule {self.id}: max_units only applies to per_unit rules")
        return self

    @property
    def bounds(self) -> list[float]:
        """Every value where the rule's points can step."""
        own = (self.at_least, self.at_most, self.max_units, *(b.at_least for b in self.bands))
        return [b for b in own if b is not None]

    def award(self, values: NDArray[np.float64]) -> NDArray[np.float64]:
        """Points per entity for feature `values`; a missing value (NaN) earns nothing."""
        if self.bands:
            picked = np.select(
                [values >= b.at_least for b in self.bands[:-1]],
                [b.points for b in self.bands[:-1]],
                self.bands[-1].points,
            )
            return np.where(np.isnan(values), 0.0, picked)
        hit = ~np.isnan(values)
        if self.at_least is not None:
            hit &= values >= self.at_least
        if self.at_most is not None:
            hit &= values <= self.at_most
        if not self.per_unit:
            return np.where(hit, self.points, 0.0)
        units = np.clip(np.nan_to_num(values), 0.0, self.max_units or np.inf)
        return np.where(hit, self.points * units, 0.0)


class Cap(_Strict):
    """A ceiling on the grade while a feature is at or above a value (一票否决)."""

    id: Name
    feature: Name
    at_least: float
    grade: str


class Dimension(_Strict):
    """An evaluation dimension: its catalog categories, weight, base points and rules."""

    name: Name
    zh: Text
    en: Text
    categories: Annotated[tuple[str, ...], Field(min_length=1)]
    weight: Annotated[float, Field(gt=0.0, le=1.0)]
    base: Annotated[float, Field(ge=0.0, le=100.0)]
    rules: tuple[Rule, ...] = ()

    @model_validator(mode="after")
    def _known_categories(self) -> Dimension:
        unknown = [c for c in self.categories if c not in CATEGORIES]
        if unknown:
            raise ValueError(f"dimension {self.name}: unknown catalog categories {unknown}")
        return self


class Scale(_Strict):
    """The whole scale; `fingerprint()` identifies it in every graded row."""

    name: Text
    version: Annotated[str, Field(min_length=1, max_length=40)]
    standard: Text = "GB/T 45255-2025"
    points: Annotated[float, Field(gt=0.0)] = 1000.0
    top_reasons: Annotated[int, Field(ge=1, le=20)] = 5
    grades: Annotated[tuple[Grade, ...], Field(min_length=2)]
    caps: tuple[Cap, ...] = ()
    dimensions: Annotated[tuple[Dimension, ...], Field(min_length=1)]

    @model_validator(mode="after")
    def _consistent(self) -> Scale:
        labels = [g.label for g in self.grades]
        if len(set(labels)) != len(labels):
            raise ValueError("grade labels must be unique")
        if any(b.min_score >= a.min_score for a, b in pairwise(self.grades)):
            raise ValueError("grades: min_score must fall strictly from the first grade")
        if self.grades[-1].min_score != 0.0:
            raise ValueError("grades: the last grade must have min_score 0")
        if any(c.grade not in labels for c in self.caps):
            raise ValueError(f"caps: grade must be one of {labels}")
        if abs(sum(d.weight for d in self.dimensions) - 1.0) > 1e-9:
            raise ValueError("dimensions: weights must sum to 1")
        ids = [r.id for d in self.dimensions for r in d.rules] + [c.id for c in self.caps]
        names = [d.name for d in self.dimensions]
        if len(set(ids)) != len(ids) or len(set(names)) != len(names):
            raise ValueError("rule, cap and dimension names must be unique")
        return self

    @property
    def rules(self) -> list[tuple[Dimension, Rule]]:
        """Every rule with its dimension, in declaration order."""
        return [(d, r) for d in self.dimensions for r in d.rules]

    @property
    def features(self) -> list[str]:
        """The registry features the scale reads (rules and caps), without repeats."""
        used = [r.feature for _, r in self.rules] + [c.feature for c in self.caps]
        return list(dict.fromkeys(used))

    def grade(self, label: str) -> Grade:
        """The grade called `label`."""
        return next(g for g in self.grades if g.label == label)

    def to_json(self) -> str:
        """Canonical JSON: sorted keys, no whitespace."""
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))

    def fingerprint(self) -> str:
        """SHA-256 of the canonical JSON."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()


def check_features(scale: Scale, registry: Registry = REGISTRY) -> Scale:
    """Refuse rules on unknown or categorical features, or outside their dimension's categories."""
    known = {f.name: f for f in registry.features}
    for dimension, rule in scale.rules:
        feature = known.get(rule.feature)
        if feature is None or feature.dtype == "category":
            raise InvalidInput(
                f"scale rule {rule.id}: {rule.feature!r} is no ordered registry feature"
            )
        if feature.category not in dimension.categories:
            raise InvalidInput(
                f"scale rule {rule.id}: feature {rule.feature} is in catalog category "
                f"{feature.category}, not in dimension {dimension.name}'s {list(dimension.categories)}"
            )
    for cap in scale.caps:
        if cap.feature not in known or known[cap.feature].monotone != 1:
            raise InvalidInput(f"scale cap {cap.id}: {cap.feature!r} is no risk-increasing feature")
    for name in {rule.feature for _, rule in scale.rules}:
        _check_direction(known[name], [r for _, r in scale.rules if r.feature == name])
    return scale


def _check_direction(feature: Feature, rules: list[Rule]) -> None:
    """Points summed over a feature's rules must not rise with risk (registry monotone)."""
    if feature.monotone == 0:
        return
    edges = sorted({b for r in rules for b in r.bounds})
    grid = np.array(
        sorted(
            {
                0.0,
                *edges,
                *(e - 0.5 for e in edges),
                *(e + 0.5 for e in edges),
                min(edges, default=0.0) - 1e6,
                max(edges, default=0.0) + 1e6,
            }
        )
    )
    total = sum((r.award(grid) for r in rules), np.zeros(len(grid)))
    steps = np.diff(total) * -feature.monotone  # > 0: points fall as risk rises (allowed)
    if np.any(steps < -1e-9):
        ids = ", ".join(r.id for r in rules)
        raise InvalidInput(
            f"scale rules {ids}: points must not rise with the risk of {feature.name} "
            f"(registry direction {feature.monotone:+d})"
        )


def load_scale(path: Path, registry: Registry = REGISTRY) -> Scale:
    """Read and validate a `.yaml`, `.yml` or `.toml` scale file."""
    data = config_file.read(path, "scale")
    return check_features(validate_scale(data, path.name), registry)


@cache
def default_scale() -> Scale:
    """The platform's default scale shipped with the package (read once)."""
    text = (
        resources.files("platform_services.evaluation")
        .joinpath(DEFAULT_SCALE_FILE)
        .read_text("utf-8")
    )
    return check_features(parse_scale(text, ".yaml", DEFAULT_SCALE_FILE))


def parse_scale(text: str, suffix: str, name: str) -> Scale:
    """Parse and validate scale text (structure only; `check_features` checks the registry)."""
    return validate_scale(config_file.parse(text, suffix, f"scale {name}"), name)


def validate_scale(data: Any, name: str) -> Scale:
    """Validate parsed scale data (structure only; `check_features` checks the registry)."""
    if not isinstance(data, dict):
        raise InvalidInput(f"scale {name}: must be a mapping of scale fields")
    try:
        return Scale.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise InvalidInput(
            f"scale {name}: {where}: {first['msg'].removeprefix('Value error, ')}"
        ) from None
