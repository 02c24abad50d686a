"""A compact constructor for declarations: legal basis comes from the source table's schema."""

from __future__ import annotations

from typing import Any

from catalog import schema
from features.registry import Agg, Feature


def feature(
    name: str, source: str, agg: Agg, zh: str, en: str, monotone: int, **kw: Any
) -> Feature:
    """Declare a feature; its catalog category and legal basis default to the source table's."""
    table = schema.TABLES[source]
    kw.setdefault("category", table.category)
    kw.setdefault("legal_basis", table.legal_basis or "")
    return Feature(name=name, source=source, agg=agg, zh=zh, en=en, monotone=monotone, **kw)
