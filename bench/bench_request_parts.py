"""Where one audited single pre-approval's CPU goes, in process: thread CPU per stage.

    python bench/bench_request_parts.py --home DIR [--requests 1000] [--seed 7]

`--home` is a demo home (`precredit demo --no-serve`); its demo_bank is scored on `--requests`
varied codes after a warm-up, each stage timed with the thread's CPU clock (`time.thread_time`,
less moved than wall time by other load on a shared machine): code check, policy, snapshot row,
consent, the decision (TreeSHAP, limit, reasons; also TreeSHAP and the limit rule alone), the
answer's JSON forms, then the audited path (`decisions.score`, the group commit included; the
process CPU clock, so the writer thread counts) one call at a time. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import inprocess

from models.limit import decide as limit_decide
from serving.config import Settings
from serving.decision import decisions, scoring
from serving.decision.decisions import _code

TENANT = "demo_bank"


def _timer(totals: dict[str, float]) -> Callable[..., Any]:
    def timed(name: str, call: Callable[..., Any], *args: Any) -> Any:
        started = time.thread_time()
        result = call(*args)
        totals[name] = totals.get(name, 0.0) + time.thread_time() - started
        return result

    return timed


def _booster_contributions(classifier: Any, matrix: Any) -> Any:
    """TreeSHAP of one row as `Booster.predict` gives it (the path before the fast C API)."""
    return classifier.booster_.predict(
        matrix, pred_contrib=True, num_iteration=classifier.best_iteration_, num_threads=1
    )


def _one(services: Any, timed: Callable[..., Any], code: str) -> None:
    canonical, flag = timed("code_check", _code, services, code)
    model = timed("model_lookup", services.models.get, TENANT)
    served = timed("policy", services.policies.served, model, TENANT, None)
    row = timed("snapshot_row", services.snapshot.row, canonical)
    timed("consent", services.consents.use, services.models, TENANT, canonical)
    names = served.model.spec.names
    features = timed("feature_values", scoring.feature_values_dict, row, names)
    request = scoring.Request(canonical, served.model.policy_.product, 500_000.0, flag)
    answer = timed("decision", scoring.decide, served, request, features, row.as_of)
    matrix = row.take(names).reshape(1, -1)
    scored = timed("decision.treeshap", served.model.score, matrix)
    classifier = served.model.classifier_  # the same TreeSHAP through Booster.predict (before)
    timed("decision.treeshap_booster_predict", _booster_contributions, classifier, matrix)
    columns = {n: matrix[:, j] for j, n in enumerate(names)}
    timed("decision.limit_rule", limit_decide, served.model.policy_, columns, scored["pd"], names)
    body = timed("answer_dump", lambda: answer.model_dump(mode="json"))
    timed("audit_json", lambda: [scoring.canonical_json(x) for x in (features, body)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--requests", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    services = inprocess.services_for(args.home)
    codes = inprocess.sample_codes(Settings(home=args.home).store, args.requests + 100, args.seed)
    totals: dict[str, float] = {}
    timed = _timer(totals)
    for code in codes[:100]:
        _one(services, timed, code)
    totals.clear()
    for code in codes[100:]:
        _one(services, timed, code)
    n = len(codes) - 100
    product = services.models.get(TENANT).model.policy_.product
    started = time.process_time()
    for code in codes[100:]:
        decisions.score(services, TENANT, code, product, 500_000.0)
    audited = time.process_time() - started
    services.audit.close()
    print(
        json.dumps(
            {
                "bench": "request_parts",
                "requests": n,
                "cpu_us_per_request": {k: round(1e6 * v / n, 1) for k, v in totals.items()},
                "audited_one_at_a_time_cpu_us": round(1e6 * audited / n, 1),
                "load_average": os.getloadavg(),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
