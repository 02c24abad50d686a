"""Public credit composite evaluation (公共信用综合评价, work plan item 4).

A transparent points scale (`scale.py`, default in `default_scale.yaml`, documented in
docs/evaluation.md) grades every entity of the feature snapshot A/B/C/D from registry features
grouped by catalog category, with its top reasons; `evaluate` writes `entity_evaluation`,
`export` the files for departments, `evaluate_one` answers a single entity.
"""

from __future__ import annotations

from platform_services.evaluation.export import export
from platform_services.evaluation.grading import (
    EntityEvaluation,
    EvaluationRun,
    evaluate,
    evaluate_one,
    reevaluate,
    stored_evaluation,
)
from platform_services.evaluation.scale import Scale, default_scale, load_scale
from platform_services.evaluation.table import TABLE, leading_reasons

__all__ = [
    "TABLE",
    "EntityEvaluation",
    "EvaluationRun",
    "Scale",
    "default_scale",
    "evaluate",
    "evaluate_one",
    "export",
    "leading_reasons",
    "load_scale",
    "reevaluate",
    "stored_evaluation",
]
