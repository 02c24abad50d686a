"""Shared fixtures: synthetic platform stores built once per session from seeded generators."""

from __future__ import annotations

from pathlib import Path

import pytest

from features.synth.config import SynthConfig
from features.synth.generate import generate

REALISM_ENTITIES = 60_000  # enough matured loans (~4,000, ~100 defaults) for stable rates and AUCs


@pytest.fixture(scope="session")
def realism_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A city-district-sized platform (60k entities, seed 42) for realism checks."""
    path = tmp_path_factory.mktemp("realism") / "platform.duckdb"
    generate(path, SynthConfig(entities=REALISM_ENTITIES, seed=42))
    return path


@pytest.fixture(scope="session")
def small_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small platform (3,000 entities, seed 7) for fast functional tests."""
    path = tmp_path_factory.mktemp("small") / "platform.duckdb"
    generate(path, SynthConfig(entities=3_000, seed=7))
    return path
