"""A home with one bank and a table of its own loans, for the table-model CLI and API tests.

The table is tests/data/credit_data_sample.csv (800 real loans) with a seeded application date
added (`applied`), so the split is out of time and one selection is trained.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from precredit.cli import app
from precredit.settings import get_settings

SAMPLE = Path(__file__).parent / "data" / "credit_data_sample.csv"
BANK = "bank_one"
SLUG = "loans"
NAME = f"precredit-{BANK}-table-{SLUG}"
SEED, TRIALS, SECONDS = 42, 3, 120.0  # seconds never reached: the trials decide (determinism)
runner = CliRunner()


@contextmanager
def table_home(home: Path) -> Iterator[Path]:
    """PRECREDIT_HOME = `home` with `bank_one` and the sample with dates as `loans.csv`."""
    loans = pd.read_csv(SAMPLE)
    days = np.sort(np.random.default_rng(4).integers(0, 3 * 365, len(loans)))
    loans["applied"] = (pd.Timestamp("2021-01-01") + pd.to_timedelta(days, unit="D")).strftime(
        "%Y-%m-%d"
    )
    loans.to_csv(home / f"{SLUG}.csv", index=False)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PRECREDIT_HOME", str(home))
        patch.delenv("PRECREDIT_TRACKING_URI", raising=False)
        get_settings.cache_clear()
        added = runner.invoke(app, ["banks", "add", "Bank One", "--id", BANK])
        assert added.exit_code == 0, added.output
        try:
            yield home
        finally:
            get_settings.cache_clear()


def train_args(home: Path, out: Path, *extra: str) -> list[str]:
    """`precredit train --table` on the home's loans, seeded, with a small tuning budget."""
    args = ["train", "--table", str(home / f"{SLUG}.csv"), "--target", "Status"]
    args += ["--positive", "bad", "--id-col", "rownames", "--time-col", "applied"]
    args += ["--trials", str(TRIALS), "--tune-seconds", str(SECONDS), "--seed", str(SEED)]
    return [*args, "--metrics-json", str(out), *extra]


def bank_table(platform_frame: pd.DataFrame, rows: int, seed: int = 9) -> pd.DataFrame:
    """A bank's table for `--join-platform`: seeded rows of a cold-start frame (credit code,
    date, good/bad) with two columns of the bank's own (a score carrying part of the label,
    and noise)."""
    rng = np.random.default_rng(seed)
    picked = platform_frame.iloc[np.sort(rng.choice(len(platform_frame), rows, replace=False))]
    label = picked["label"].to_numpy()
    return pd.DataFrame(
        {
            "credit_code": picked["uscc"].to_numpy(),
            "applied": pd.to_datetime(picked["as_of"]).dt.strftime("%Y-%m-%d").to_numpy(),
            "bank_score": np.round(label * 1.0 + rng.normal(size=rows), 4),
            "noise": np.round(rng.normal(size=rows), 4),
            "status": np.where(label == 1, "bad", "good"),
        }
    )


def invoke(*args: str) -> str:
    """Run the CLI in process; its stdout (the test fails on a non-zero exit)."""
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def last_line(text: str) -> str:
    """A printed key: `banks add` and `banks key` print it alone on the last line."""
    return text.strip().splitlines()[-1]
