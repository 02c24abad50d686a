"""Risk monitoring and early warning (work plan item 6): declared rules over visible records.

`run_warnings` writes `entity_warnings` for the whole city, `warnings_for` answers a few
entities now; rules and their defaults are in `rules.py` and docs/warnings.md.
"""

from __future__ import annotations

from platform_services.warnings.rules import DEFAULT_RULES, WarningRule, load_rules, with_overrides
from platform_services.warnings.run import (
    TABLE,
    EntityWarning,
    WarningsRun,
    export,
    run_warnings,
    warnings_for,
)

__all__ = [
    "DEFAULT_RULES",
    "TABLE",
    "EntityWarning",
    "WarningRule",
    "WarningsRun",
    "export",
    "load_rules",
    "run_warnings",
    "warnings_for",
    "with_overrides",
]
