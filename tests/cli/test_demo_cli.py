"""`precredit demo` on a platform too small for its model to pass the promotion gate.

On 1,500 generated entities (seed 42) the cold-start model fails the gate's calibration check.
The demo must stop there with the gate's reasons and one readable line, and exit non-zero:
before this it went on to the offers run and died on `model_unavailable` with no word of why.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_demo_stops_with_the_gates_reasons_when_its_model_is_refused(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRECREDIT_")}
    env |= {"PRECREDIT_HOME": str(tmp_path / "home"), "OMP_WAIT_POLICY": "PASSIVE"}
    done = subprocess.run(
        [
            str(Path(sys.executable).with_name("precredit")),
            "demo",
            "--entities",
            "1500",
            "--no-serve",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    refused = [line for line in done.stdout.splitlines() if "not promoted:" in line]
    assert refused, "the cold-start model passed the gate here: choose a smaller platform"
    assert "precredit-platform version 1 @challenger" in refused[0]
    assert done.returncode == 3, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("precredit: error [model_unavailable]: the promotion gate refused")
    assert "Traceback" not in done.stderr
    assert "[5/7]" not in done.stdout  # stopped before evaluation, offers and serving
    assert not (tmp_path / "home" / "offers").exists()
