"""The project's feature registry, assembled from the per-area declarations."""

from __future__ import annotations

from features.definitions.finance import FINANCE
from features.definitions.records import RECORDS
from features.definitions.sources import SOURCES
from features.registry import Registry

REGISTRY = Registry(RECORDS + FINANCE, SOURCES)

__all__ = ["REGISTRY", "SOURCES"]
