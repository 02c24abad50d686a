"""Shared fixtures: synthetic platform stores built once per session from seeded generators.

No test reads or writes the working directory's state (a demo's `.precredit/`, `mlflow.db`,
`docs/`): the session and then every test run in a scratch directory with a scratch
`PRECREDIT_HOME`, and no other `PRECREDIT_*` setting leaks in from the caller's environment.
"""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the CLI sets it, before LightGBM loads

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest
from hypothesis import settings as hypothesis_settings
from hypothesis.configuration import set_hypothesis_home_dir

from precredit.settings import get_settings
from synthetic.config import SynthConfig
from synthetic.generate import generate

if TYPE_CHECKING:
    from models.preapproval import PreapprovalModel
    from training.train import TrainResult

# Hypothesis would keep its example database and caches in `.hypothesis/` of the working
# directory: no database, and its caches in a directory of this run's own.
hypothesis_settings.register_profile("precredit", database=None)
hypothesis_settings.load_profile("precredit")
set_hypothesis_home_dir(tempfile.mkdtemp(prefix="precredit-hypothesis-"))
KEPT_SETTINGS = ("PRECREDIT_TEST_",)  # where the test databases are, not precredit settings
REALISM_ENTITIES = 60_000  # enough matured loans (~4,000, ~100 defaults) for stable rates and AUCs


@pytest.fixture(scope="session", autouse=True)
def scratch_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The whole session (module fixtures included) in a scratch directory and home."""
    scratch = tmp_path_factory.mktemp("session-cwd")
    with pytest.MonkeyPatch.context() as patch:
        for name in os.environ:
            if name.startswith("PRECREDIT_") and not name.startswith(KEPT_SETTINGS):
                patch.delenv(name)
        patch.setenv("PRECREDIT_HOME", str(scratch / ".precredit"))
        patch.chdir(scratch)
        get_settings.cache_clear()
        yield scratch
    get_settings.cache_clear()


@pytest.fixture(autouse=True)
def scratch_test(
    scratch_session: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """Each test in its own directory; its own home unless a module fixture chose one."""
    monkeypatch.chdir(tmp_path)
    if os.environ.get("PRECREDIT_HOME") == str(scratch_session / ".precredit"):
        monkeypatch.setenv("PRECREDIT_HOME", str(tmp_path / ".precredit"))
        get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


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


@pytest.fixture(scope="session")
def platform_frame(small_store: Path, tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """The cold-start training frame of `small_store` (every open entity on each quarter end)."""
    from catalog import store
    from training.pipeline import PipelineConfig, build_frame

    unused = tmp_path_factory.mktemp("unused")
    config = PipelineConfig(
        small_store, f"sqlite:///{unused / 'mlflow.db'}", unused, per_date=2_500
    )
    with store.connect(small_store, read_only=True) as con:
        return build_frame(con, "platform", "platform", config)


@pytest.fixture(scope="session")
def trained_platform(platform_frame: pd.DataFrame) -> TrainResult:
    """The one platform model of the session: `train` on `platform_frame`, seed 42."""
    from training.train import train

    return train(platform_frame)


@pytest.fixture(scope="session")
def shuffled_platform(trained_platform: TrainResult) -> PreapprovalModel:
    """A model trained on the same rows with seeded, randomly permuted labels (an honest loser)."""
    from models.preapproval import PreapprovalModel

    rng = np.random.default_rng(2024)
    train_, valid = trained_platform.splits["train"], trained_platform.splits["valid"]
    model = PreapprovalModel(trained_platform.model.spec, seed=42)
    return model.fit(
        train_,
        rng.permutation(train_["label"].to_numpy()),
        valid,
        rng.permutation(valid["label"].to_numpy()),
    )


@pytest.fixture(scope="session")
def tiny_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny platform (1,000 entities, seed 7): end-to-end CLI runs that only check the wiring."""
    path = tmp_path_factory.mktemp("tiny") / "platform.duckdb"
    generate(path, SynthConfig(entities=1_000, seed=7))
    return path


@pytest.fixture(scope="module")
def spark_session() -> Iterator[object]:
    """A local Spark session for one test module (tests marked `spark`), stopped after it.

    Per module, not per test session: MLflow asks an active Spark session for its registry
    URI whenever a client is built without one, so a session left running (or a JVM that died
    under it) would reach into every later MLflow test of the worker.

    Without a Java runtime it skips, except under CI (`CI` set), where it fails: the Spark
    tests must run there.
    """
    from features import spark

    if spark.java() is None:
        reason = "no Java runtime (java on PATH or JAVA_HOME): the Spark engine needs JDK 17+"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must run the Spark tests", pytrace=False)
        pytest.skip(reason)
    with spark.running() as session:
        yield session
