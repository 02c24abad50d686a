"""The console's sections as JSON-ready figures: what `/v1/platform/{section}` answers and
what each page renders, computed by one function per section (the same figures both ways)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from catalog import store
from catalog.errors import NotFound
from serving.console import kpis, service_figures, store_figures
from serving.db.models import utcnow
from serving.state import Services

Section = Literal["quality", "codes", "grades", "warnings", "disputes", "kpis", "monitoring"]
SECTIONS: tuple[Section, ...] = (
    "quality",
    "codes",
    "grades",
    "warnings",
    "disputes",
    "kpis",
    "monitoring",
)
_FROM_STORE: dict[str, Callable[[store.Connection], dict[str, Any]]] = {
    "quality": store_figures.quality,
    "codes": store_figures.codes,
    "warnings": store_figures.warnings,
}


def _kpis(services: Services) -> dict[str, Any]:
    with services.readers() as session:
        found = kpis.monthly(session)
    with store.connect(services.settings.store, read_only=True) as con:
        found["a_grade_taxpayers"] = store_figures.a_grade_taxpayers(con)
    return found


def _grades(services: Services) -> dict[str, Any]:
    with store.connect(services.settings.store, read_only=True) as con:
        found = store_figures.grades(con)
    found["drift"] = service_figures.grade_drift(services.settings.home)
    return found


def section(services: Services, name: str) -> dict[str, Any]:
    """The figures of one section; an unknown section is a 404."""
    if name == "grades":
        return _grades(services)
    if name in _FROM_STORE:
        with store.connect(services.settings.store, read_only=True) as con:
            return _FROM_STORE[name](con)
    if name == "disputes":
        with services.readers() as session:
            return service_figures.disputes(session, utcnow())
    if name == "kpis":
        return _kpis(services)
    if name == "monitoring":
        return service_figures.monitoring(services.settings.home)
    raise NotFound(f"no such section; one of {', '.join(SECTIONS)}")
