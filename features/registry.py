"""The feature registry: every model feature declared once, with its lawful provenance.

A `Feature` states its catalog category and legal basis, its source table, how rows are
aggregated over which window, what a missing value means, its monotone direction toward
risk and its Chinese and English text. SQL (`features.compile`), monotone constraints, reason
texts and `docs/features.md` are all derived from these declarations.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from functools import cached_property
from typing import Literal

from catalog import schema
from catalog.errors import PrecreditError

Agg = Literal[
    "count",
    "sum",
    "max",
    "min",
    "avg",
    "count_distinct",
    "latest",
    "months_since",
    "any",
    "value",
    "derived",
]
Dtype = Literal["int", "float", "bool", "category"]


class RegistryError(PrecreditError):
    """A feature declaration that breaks the registry's rules (a programming error)."""

    code = "invalid_feature"


@dataclass(frozen=True)
class Source:
    """How a catalog table is read point-in-time: its date, record key and visibility rule."""

    table: str
    date: str
    visible: str = "TRUE"
    record_key: str = "record_id"


@dataclass(frozen=True)
class Feature:
    """One model feature; `sql` is a derived formula over other features when agg='derived'."""

    name: str
    category: str
    source: str
    agg: Agg
    zh: str
    en: str
    monotone: int
    dtype: Dtype = "float"
    value: str = "1"
    window_months: int | None = None
    where: str | None = None
    default: float | None = 0.0
    missing: str = "no visible record: 0"
    categories: tuple[str, ...] = ()
    sql: str | None = None
    legal_basis: str = ""

    @property
    def data_scope(self) -> str:
        """The consent scope of its source table (`catalog.schema.DATA_SCOPES`)."""
        return schema.data_scope(self.source)

    @property
    def reason_zh(self) -> str:
        """Reason text (Chinese) shown to loan officers."""
        return self.zh

    @property
    def reason_en(self) -> str:
        """Reason text (English) shown to loan officers."""
        return self.en

    def to_dict(self) -> dict[str, object]:
        """JSON-ready declaration (with the catalog category's names)."""
        zh, en = schema.CATEGORIES[self.category]
        return asdict(self) | {
            "category_zh": zh,
            "category_en": en,
            "categories": list(self.categories),
            "data_scope": self.data_scope,
        }


def validate(feature: Feature, sources: dict[str, Source]) -> None:
    """Refuse a declaration without lawful provenance or with an impossible shape."""
    if feature.category not in schema.CATEGORIES:
        raise RegistryError(f"{feature.name}: unknown catalog category {feature.category!r}")
    if not feature.legal_basis.strip():
        raise RegistryError(f"{feature.name}: no legal basis")
    table = schema.TABLES.get(feature.source)
    if table is None or table.kind != "catalog" or feature.source not in sources:
        raise RegistryError(f"{feature.name}: source {feature.source!r} is not a catalog table")
    if feature.monotone not in (-1, 0, 1):
        raise RegistryError(f"{feature.name}: monotone must be -1, 0 or +1")
    if (feature.agg == "derived") != (feature.sql is not None):
        raise RegistryError(f"{feature.name}: derived features (and only they) carry sql")
    if feature.dtype == "category" and not feature.categories:
        raise RegistryError(f"{feature.name}: a categorical feature lists its categories")
    if not feature.name.replace("_", "").isalnum() or not feature.name.islower():
        raise RegistryError(f"{feature.name}: names are lower_snake_case")


@dataclass(frozen=True, eq=False)
class Registry:
    """An ordered, validated set of features and the sources they read."""

    features: tuple[Feature, ...]
    sources: dict[str, Source]

    def __post_init__(self) -> None:
        names = [f.name for f in self.features]
        if len(set(names)) != len(names):
            raise RegistryError("feature names must be unique")
        for feature in self.features:
            validate(feature, self.sources)

    @property
    def names(self) -> list[str]:
        """Feature names in model order."""
        return [f.name for f in self.features]

    def __getitem__(self, name: str) -> Feature:
        return next(f for f in self.features if f.name == name)

    def data_scopes(self, names: Iterable[str]) -> tuple[str, ...]:
        """The consent scopes the named features read, sorted; an undeclared name reads all."""
        by_name = {f.name: f.data_scope for f in self.features}
        scopes = {by_name.get(n) for n in names}
        if None in scopes:
            return tuple(sorted(schema.DATA_SCOPES))
        return tuple(sorted(s for s in scopes if s is not None))

    def in_scopes(self, scopes: Iterable[str]) -> list[str]:
        """Names of the features whose data scope is one of `scopes`, in model order."""
        allowed = set(scopes)
        return [f.name for f in self.features if f.data_scope in allowed]

    def monotone_constraints(self) -> list[int]:
        """LightGBM `monotone_constraints`, in model order."""
        return [f.monotone for f in self.features]

    def categorical(self) -> list[str]:
        """Names of categorical features."""
        return [f.name for f in self.features if f.dtype == "category"]

    @cached_property
    def fingerprint_value(self) -> str:
        """SHA-256 of the declarations (computed once)."""
        payload = json.dumps(
            [f.to_dict() for f in self.features], sort_keys=True, ensure_ascii=False
        )
        return hashlib.sha256(payload.encode()).hexdigest()

    def fingerprint(self) -> str:
        """SHA-256 of the declarations: models record which registry they were trained on."""
        return self.fingerprint_value
