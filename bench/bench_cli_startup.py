"""Benchmark how fast the `precredit` console script starts.

    python bench/bench_cli_startup.py [--runs 5]

Runs the installed `precredit` (next to this interpreter) with `--help`, `--version` and a
few `COMMAND --help` in fresh processes, in a scratch working directory and home. Prints one
JSON object: the median and maximum wall time of each in seconds, and the heavy modules
(pandas, LightGBM, MLflow, DuckDB, FastAPI...) a bare `--help` imports.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMMANDS = (["--help"], ["--version"], ["train", "--help"], ["serve", "--help"])
HEAVY = ("pandas", "lightgbm", "mlflow", "duckdb", "fastapi", "sqlalchemy", "uvicorn", "shap")
IMPORTED = (
    "import sys\nsys.argv = ['precredit', '--help']\nfrom precredit.cli import main\n"
    "try:\n    main()\nexcept SystemExit:\n    pass\n"
    "print(','.join(m for m in {heavy!r} if m in sys.modules), file=sys.stderr)\n"
)


def _seconds(script: Path, args: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([str(script), *args], cwd=cwd, env=env, capture_output=True, check=False)
    return time.perf_counter() - start


def _heavy_imports(cwd: Path, env: dict[str, str]) -> list[str]:
    code = IMPORTED.format(heavy=HEAVY)
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, check=True
    )
    last = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else ""
    return [m for m in last.split(",") if m]


def main() -> None:
    """Time each command line `--runs` times and print the JSON summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    script = Path(sys.executable).with_name("precredit")
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        env = os.environ | {"PRECREDIT_HOME": str(cwd / "home")}
        _seconds(script, ["--version"], cwd, env)  # warm the file cache once
        timings = {}
        for command in COMMANDS:
            runs = [_seconds(script, command, cwd, env) for _ in range(args.runs)]
            timings[" ".join(command)] = {
                "median_s": round(statistics.median(runs), 3),
                "max_s": round(max(runs), 3),
            }
        heavy = _heavy_imports(cwd, env)
    print(json.dumps({"runs": args.runs, "commands": timings, "help_imports_heavy": heavy}))


if __name__ == "__main__":
    main()
