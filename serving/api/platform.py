"""`/v1/platform/{section}`: the operator console's figures as JSON (operator key).

Each section is computed by `serving.console.figures.section`, the function the console's
page renders, so the page and this answer show the same figures.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from serving.console import figures
from serving.deps import OperatorPrincipal, ServicesDep
from serving.errors import documented
from serving.responses import PlatformSection

router = APIRouter(prefix="/v1/platform", tags=["operator console"])


@router.get(
    "/{section}",
    summary="One section of the operator's console as JSON",
    response_model=PlatformSection,
    responses=documented(401, 403, 404, 422, 503),
)
def section(section: figures.Section, principal: OperatorPrincipal, services: ServicesDep) -> Any:
    """quality, codes, grades, warnings, disputes, kpis or monitoring (operator scope)."""
    return {"section": section, "figures": figures.section(services, section)}
