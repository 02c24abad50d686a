"""What the notebooks run on: a small precredit home and a kernel pinned to this interpreter."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from ipykernel.kernelspec import write_kernel_spec
from jupyter_client.kernelspec import KernelSpecManager
from notebook_fixtures import QUIET_OPENMP, clean_env

KERNEL = "python3"


@pytest.fixture(scope="session")
def notebook_home(tiny_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home with the tiny store, its snapshot and a promoted platform model (trained_home.py)."""
    home = tmp_path_factory.mktemp("notebooks") / "home"
    script = Path(__file__).parents[1] / "trained_home.py"
    env = clean_env() | QUIET_OPENMP | {"MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}
    done = subprocess.run([sys.executable, str(script), str(tiny_store), str(home)], env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return home


@pytest.fixture(scope="session")
def kernel_specs(tmp_path_factory: pytest.TempPathFactory) -> KernelSpecManager:
    """Kernel specs holding only `python3`, which runs this very interpreter (the venv's)."""
    kernels = tmp_path_factory.mktemp("kernels")
    write_kernel_spec(kernels / KERNEL)
    assert (kernels / KERNEL / "kernel.json").read_text().count(sys.executable) == 1
    return KernelSpecManager(kernel_dirs=[str(kernels)], ensure_native_kernel=False)
