"""Maturing labels after a city-wide shock: does the loop react faster, and by how much?

    python bench/bench_maturing_shock.py --out DIR [--entities 6000] [--seed 42]
        [--crisis-date 2024-10-01] [--crisis-size 0.6] [--rounds 8] [--jobs 3]
    python bench/bench_maturing_shock.py --out DIR --summarise-only

Generates one synthetic platform whose entities all take the generator's crisis jump on
`--crisis-date` (health falls by `--crisis-size`, then recovers at the crisis decay), then runs
`precredit simulate` (2 banks, the production gate, platform reject inference) three times on
copies of it, changing only how retraining treats loans younger than 12 months: `none` (left
out), `censoring` (censoring weights) and `early_delinquency` (those weights sharpened by 30+
DPD at 3 or 6 months). For each bank it prints the served model's AUC and ECE on all the
round's applicants (every applicant's outcome is realised in the simulation), the rounds from
the shock until the served model is back within its pre-shock AUC and ECE, the mean ECE over
the shock rounds, and the retrainings promoted. Prints one JSON object.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the CLI sets it, before LightGBM loads

import argparse
import datetime as dt
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

VARIANTS = ("none", "censoring", "early_delinquency")


def build_store(out: Path, entities: int, seed: int, day: dt.date, size: float) -> Path:
    """The shocked platform, generated once into `out`."""
    from synthetic.config import SynthConfig
    from synthetic.generate import generate

    path = out / f"platform-{entities}-{seed}-{day.isoformat()}-{size}.duckdb"
    if not path.exists():
        config = SynthConfig(
            entities=entities, seed=seed, city_crisis_date=day, city_crisis_size=size
        )
        generate(path, config)
    return path


def run_variant(store: str, out: str, variant: str, seed: int, rounds: int) -> float:
    """One simulation with `variant` maturing labels; its report.json in out/variant."""
    from simulation import report as simulation_report
    from simulation.run import SimulationConfig, default_banks, prepare_home, simulate

    started = time.perf_counter()
    home = Path(out) / f"home-{variant}"
    prepare_home(home, Path(store), 0, seed)
    config = SimulationConfig(default_banks(2), rounds, seed=seed, maturing=variant)  # type: ignore[arg-type]
    report, loans = simulate(
        home, config, lambda line: print(f"[{variant}] {line}", file=sys.stderr, flush=True)
    )
    simulation_report.write(report, Path(out) / variant)
    loans.to_csv(Path(out) / variant / "loans.csv", index=False)
    return time.perf_counter() - started


def _served(record: dict[str, Any]) -> tuple[float | None, float | None]:
    served = record["scorers"]["served"]
    return served["auc"], served["ece"]


def recovery(rows: list[dict[str, Any]], shock: str) -> dict[str, Any]:
    """Rounds from the shock until the served AUC and ECE are back within pre-shock values."""
    before = [r for r in rows if r["date"] < shock]
    after = [r for r in rows if r["date"] >= shock]
    worst_auc = min(r["auc"] for r in before) if before else None
    worst_ece = max(r["ece"] for r in before) if before else None
    back = next(
        (
            i
            for i, r in enumerate(after)
            if worst_auc is not None and r["auc"] >= worst_auc and r["ece"] <= worst_ece
        ),
        None,
    )
    eces = [r["ece"] for r in after]
    return {
        "pre_shock_worst_auc": worst_auc,
        "pre_shock_worst_ece": worst_ece,
        "shock_rounds": len(after),
        "mean_ece_shock_rounds": round(sum(eces) / len(eces), 4) if eces else None,
        "rounds_to_recover": back,  # 0: the shock round itself; None: not within the run
    }


def summarise(report: dict[str, Any], shock: str) -> dict[str, Any]:
    """Per bank: the served model's AUC and ECE per round, recovery and the retrainings."""
    banks: dict[str, Any] = {}
    for record in report["records"]:
        auc, ece = _served(record)
        bank = banks.setdefault(record["bank"], {"rounds": [], "retrainings": []})
        bank["rounds"].append(
            {
                "round": record["round"],
                "date": record["date"],
                "model": record["serving_model"]["name"] + "@" + record["serving_model"]["version"],
                "auc": round(auc, 4) if auc is not None else None,
                "ece": round(ece, 4) if ece is not None else None,
                "cold_start_ece": record["scorers"]["cold_start"]["ece"],
                "bad_rate_approved": record["scorers"]["served"]["bad_rate"],
                "mean_pd_approved": record["scorers"]["served"]["mean_pd_approved"],
            }
        )
        retrain = record.get("retrain")
        if retrain:
            failed = [k for k, c in (retrain.get("gate") or {}).items() if not c["passed"]]
            bank["retrainings"].append(
                {"round": record["round"], "promotion": retrain.get("promotion"), "failed": failed}
            )
    for bank in banks.values():
        bank["recovery"] = recovery(bank["rounds"], shock)
    return banks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--entities", type=int, default=6_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--crisis-date", type=dt.date.fromisoformat, default=dt.date(2024, 10, 1))
    parser.add_argument("--crisis-size", type=float, default=0.6)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--jobs", type=int, default=3)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--summarise-only", action="store_true")
    args = parser.parse_args()
    variants = args.variants.split(",")
    args.out.mkdir(parents=True, exist_ok=True)
    seconds: dict[str, float] = {}
    if not args.summarise_only:
        store = build_store(args.out, args.entities, args.seed, args.crisis_date, args.crisis_size)
        with ProcessPoolExecutor(args.jobs) as pool:
            futures = {
                v: pool.submit(run_variant, str(store), str(args.out), v, args.seed, args.rounds)
                for v in variants
            }
            seconds = {v: round(f.result(), 1) for v, f in futures.items()}
    shock = args.crisis_date.isoformat()
    result: dict[str, Any] = {
        "bench": "maturing_shock",
        "entities": args.entities,
        "seed": args.seed,
        "crisis": {"date": shock, "size": args.crisis_size},
        "seconds": seconds,
        "variants": {},
    }
    for variant in variants:
        report = json.loads((args.out / variant / "report.json").read_text())
        result["variants"][variant] = summarise(report, shock)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
