"""The simulation's report says where its promotion gate differs from production's."""

from __future__ import annotations

from dataclasses import replace

from serving.config import Settings
from simulation.report import gate_difference
from simulation.run import SimulationConfig, default_banks, describe, gate_vs_production
from training.gate import GateConfig


def test_the_default_simulation_runs_the_production_gate() -> None:
    config = SimulationConfig(default_banks(2), rounds=1)
    assert gate_vs_production(config) == []
    assert gate_difference(describe(config, 1_000)["gate_vs_production"]) == (
        "Gate settings: as in production."
    )


def test_a_looser_calibration_limit_is_named_in_the_report() -> None:
    config = replace(SimulationConfig(default_banks(2), rounds=1), max_ece=0.05)
    differences = {d["setting"]: d for d in gate_vs_production(config)}
    production = Settings.model_fields["retrain_max_ece"].default
    assert differences["max_ece (retraining)"]["production"] == production
    assert differences["max_ece (retraining)"]["difference"] == config.max_ece - production
    assert differences["max_ece (cold start)"]["production"] == GateConfig().max_ece
    line = gate_difference(describe(config, 1_000)["gate_vs_production"])
    assert line.startswith("Gate settings differ from production: max_ece (retraining) 0.05 here")


def test_a_simulation_on_production_settings_says_so() -> None:
    config = replace(
        SimulationConfig(default_banks(1), rounds=1),
        max_ece=GateConfig().max_ece,
        min_own_defaults=Settings.model_fields["retrain_min_own_defaults"].default,
    )
    assert gate_vs_production(config) == []
    assert gate_difference([]) == "Gate settings: as in production."
