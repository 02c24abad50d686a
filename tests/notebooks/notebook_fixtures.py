"""The environment the notebook tests run their subprocesses in (home build, kernels)."""

from __future__ import annotations

import os

# LightGBM trains on 2 OpenMP threads; on a busy machine their spin-waiting costs up to 10x.
QUIET_OPENMP = {"OMP_WAIT_POLICY": "PASSIVE"}


def clean_env() -> dict[str, str]:
    """This process's environment without precredit or MLflow settings."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("PRECREDIT_", "MLFLOW_"))}
