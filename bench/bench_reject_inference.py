"""Reject inference in the lending simulation: own champions against the cold-start model.

    python bench/bench_reject_inference.py --bound 0.019 none=DIR fuzzy=DIR platform=DIR

Each DIR holds the report.json of one `precredit simulate ... --reject-inference METHOD` run
(same seed, banks, rounds and entities). For every round an own champion served, it prints
the AUC gain over the cold-start model on all applicants (true outcomes of every applicant are
known in the simulation), that gain as a share of the hindsight bound (`--bound`, measured by
bench/bench_loop_headroom.py on the same store), and the paired-bootstrap 95% interval; then
the mean share per method and the rounds with a significant loss. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def rounds(report: dict[str, Any], bound: float) -> list[dict[str, Any]]:
    """One row per own-champion round and bank (with the sample the gate judged its model on)."""
    out, samples = [], {}
    for record in report["records"]:
        retrain = record.get("retrain") or {}
        if retrain.get("version"):
            samples[(record["bank"], retrain["version"])] = retrain.get("gate_sample")
        if not record["own_model"]:
            continue
        served, cold = record["scorers"]["served"]["auc"], record["scorers"]["cold_start"]["auc"]
        low, high = record["auc_gain_ci95"] or (None, None)
        out.append(
            {
                "bank": record["bank"],
                "round": record["round"],
                "model": record["serving_model"]["version"],
                "auc_gain": round(served - cold, 4),
                "share_of_bound": round((served - cold) / bound, 3),
                "ci95": None if low is None else [round(low, 4), round(high, 4)],
                "significant_loss": high is not None and high < 0,
                "gate_sample": samples.get((record["bank"], record["serving_model"]["version"])),
            }
        )
    return out


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean share of the bound over own-champion rounds, and the rounds significantly worse."""
    shares = [r["share_of_bound"] for r in rows]
    return {
        "own_champion_rounds": len(rows),
        "gate_samples": sorted({r["gate_sample"] for r in rows if r["gate_sample"]}),
        "mean_share_of_bound": round(sum(shares) / len(shares), 3) if shares else None,
        "rounds_with_significant_loss": sum(r["significant_loss"] for r in rows),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bound", type=float, required=True)
    parser.add_argument("runs", nargs="+", help="METHOD=DIR")
    args = parser.parse_args()
    result: dict[str, Any] = {"bench": "reject_inference", "bound": args.bound, "methods": {}}
    for run in args.runs:
        method, directory = run.split("=", 1)
        report = json.loads((Path(directory) / "report.json").read_text())
        rows = rounds(report, args.bound)
        result["methods"][method] = {"summary": summary(rows), "rounds": rows}
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
