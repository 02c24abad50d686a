"""The lending simulation's report: records -> summary, markdown, PNG plots and report.json.

Pure: it reads only the records and metadata it is given. `report.json` holds one record per
round and bank plus the summary; nothing in it depends on the wall clock or on random ids, so
the same seed gives the same file.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from simulation.plots import PLOTS, SCORERS, render
from simulation.records import RoundRecord, SimulationReport

MEANS = ("auc", "auc_loans", "ece", "approval_rate", "bad_rate", "true_pd_approved")
SUMS = ("amount_cny", "expected_profit_cny", "realised_profit_cny")
Record = RoundRecord


def _mean(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else None


def aggregate(records: Sequence[Record]) -> dict[str, dict[str, float | None]]:
    """Per scorer: mean of the per-round rates and AUCs, sum of amounts and profits."""
    out: dict[str, dict[str, float | None]] = {}
    for scorer in SCORERS:
        rows = [r.scorers[scorer] for r in records]
        out[scorer] = {k: _mean([row[k] for row in rows]) for k in MEANS}
        out[scorer] |= {k: float(sum(row[k] or 0.0 for row in rows)) for k in SUMS}
    return out


def _retrains(records: Sequence[Record]) -> dict[str, Any]:
    jobs = [r.retrain for r in records if r.retrain is not None]
    tenants = sorted({t for j in jobs for t in (j.data_tenants or "").split(",") if t})
    promoted = [j for j in jobs if (j.promotion or "").startswith("promoted")]
    return {
        "jobs": len(jobs),
        "promoted": len(promoted),
        "failed": sum(j.status != "succeeded" for j in jobs),
        "refused_by_gate": sum(j.promotion == "refused_by_gate" for j in jobs),
        "data_tenants": tenants,
        "data_fingerprints": [j.data_fingerprint for j in jobs],
    }


def _diff(new: float | None, old: float | None) -> float | None:
    return None if new is None or old is None else new - old


def loop_gain(own: Sequence[Record]) -> dict[str, Any] | None:
    """The bank's own models against the cold-start model, on the rounds they served."""
    if not own:
        return None
    s, c, r = (aggregate(own)[k] for k in SCORERS)
    intervals = [x.auc_gain_ci95 for x in own if x.auc_gain_ci95 is not None]
    return {
        **{k: _diff(s[k], c[k]) for k in ("auc", "auc_loans", "ece", "approval_rate", "bad_rate")},
        "expected_profit_cny": _diff(s["expected_profit_cny"], c["expected_profit_cny"]),
        "expected_profit_vs_rule_cny": _diff(s["expected_profit_cny"], r["expected_profit_cny"]),
        "rounds_with_significant_auc_gain": sum(low > 0 for low, _ in intervals),
        "rounds_with_significant_auc_loss": sum(high < 0 for _, high in intervals),
    }


def bank_summary(records: Sequence[Record], break_even_bad_rate: float) -> dict[str, Any]:
    """What the loop did for one bank: rounds its own champion served, and the comparisons."""
    own = [r for r in records if r.own_model]
    last = records[-1]
    return {
        "rounds": len(records),
        "own_model_rounds": [r.round for r in own],
        "break_even_bad_rate": break_even_bad_rate,
        "retraining": _retrains(records),
        "all_rounds": aggregate(records),
        "own_model": aggregate(own) if own else None,
        "loop_vs_cold_start": loop_gain(own),
        "auc_true_pd_own_model_rounds": _mean([r.auc_true_pd for r in own]),
        "last_round": {
            "round": last.round,
            "model": last.serving_model.model_dump(),
            "auc_gain_ci95": last.auc_gain_ci95,
            **{s: last.scorers[s] for s in SCORERS},
        },
        "portfolio": {
            k: float(sum(getattr(r.loans, k) for r in records))
            for k in ("n", "test_loans", "amount_cny", "expected_profit_cny", "realised_profit_cny")
        },
    }


def break_even(rate: float, economics: dict[str, float]) -> float:
    """The bad rate at which a loan book at `rate` earns nothing."""
    margin = rate - economics["funding_cost"]
    return margin / (margin + economics["lgd"])


def summarise(records: Sequence[Record], meta: dict[str, Any]) -> dict[str, Any]:
    """Per bank summaries, in the order banks appear."""
    rates = {b["bank_id"]: b["rate"] for b in meta["config"]["banks"]}
    economics = meta["config"]["economics"]
    return {
        bank: bank_summary([r for r in records if r.bank == bank], break_even(rate, economics))
        for bank, rate in rates.items()
    }


def _fmt(value: float | None, digits: int = 3) -> str:
    return (
        "n/a"
        if value is None or (isinstance(value, float) and math.isnan(value))
        else f"{value:.{digits}f}"
    )


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _m(value: float | None) -> str:
    return "n/a" if value is None else f"{value / 1e6:,.2f}m"


def _discrimination(gain: dict[str, Any], rounds: int) -> str:
    up, down = gain["rounds_with_significant_auc_gain"], gain["rounds_with_significant_auc_loss"]
    verdict = (
        "improved discrimination"
        if up and not down
        else "worsened discrimination"
        if down and not up
        else "left discrimination unchanged within noise"
    )
    return (
        f"{verdict} (AUC on all applicants {_signed(gain['auc'])}; a significant "
        f"gain in {up} and a significant loss in {down} of {rounds} rounds, paired bootstrap 95%)"
    )


def _signed(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:+.{digits}f}"


def statement(bank: str, summary: dict[str, Any]) -> str:
    """The plain-words verdict of the loop for one bank, with the run's figures."""
    own, jobs, gain = summary["own_model"], summary["retraining"], summary["loop_vs_cold_start"]
    if own is None:
        return (
            f"**{bank}**: no model of its own was promoted in {summary['rounds']} rounds "
            f"({jobs['jobs']} retrainings: {jobs['refused_by_gate']} refused by the gate, "
            f"{jobs['failed']} failed); the cold-start model served throughout, so the loop "
            "has not improved anything for this bank yet."
        )
    s, c, r = own["served"], own["cold_start"], own["rule"]
    rounds = summary["own_model_rounds"]
    return (
        f"**{bank}**: its own champion served rounds {rounds[0]}-{rounds[-1]} ({jobs['promoted']} of "
        f"{jobs['jobs']} retrainings promoted). Against the cold-start model on those rounds the loop "
        f"{_discrimination(gain, len(rounds))}: {_fmt(s['auc'])} vs {_fmt(c['auc'])} (rule "
        f"{_fmt(r['auc'])}; the true PD itself {_fmt(summary.get('auc_true_pd_own_model_rounds'))}, the "
        f"ceiling on this data); on the bank's own loans {_fmt(s['auc_loans'])} vs {_fmt(c['auc_loans'])}. "
        f"Calibration (ECE) {_fmt(s['ece'])} vs {_fmt(c['ece'])}. Approval rate {_pct(s['approval_rate'])} "
        f"vs {_pct(c['approval_rate'])} (rule {_pct(r['approval_rate'])}) at a bad rate of "
        f"{_pct(s['bad_rate'])} vs {_pct(c['bad_rate'])} (rule {_pct(r['bad_rate'])}; break-even "
        f"{_pct(summary['break_even_bad_rate'])}); expected profit CNY {_m(s['expected_profit_cny'])} vs "
        f"{_m(c['expected_profit_cny'])} ({_signed(gain['expected_profit_cny'] / 1e6, 2)}m; rule "
        f"{_m(r['expected_profit_cny'])})."
    )


def _round_table(records: Sequence[Record]) -> str:
    head = (
        "| round | date | model | AUC loop / cold / rule (true PD) | AUC on loans loop / cold | approval loop / cold / rule "
        "| bad rate loop / cold / rule | exp. profit m loop / cold / rule | ECE loop / cold | loans (test) | retraining |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|"
    )
    lines = [head]
    for r in records:
        s, c, u = (r.scorers[k] for k in SCORERS)
        job = r.retrain
        retrain = (
            ""
            if job is None
            else (job.promotion or job.status)
            + (
                f" v{job.version} (out-of-time AUC {_fmt(job.auc_oot)}; data {job.data_tenants})"
                if job.version
                else ""
            )
        )
        lines.append(
            f"| {r.round} | {r.date} | {r.serving_model.name.removeprefix('precredit-')} "
            f"v{r.serving_model.version} | {_fmt(s['auc'])} / {_fmt(c['auc'])} / {_fmt(u['auc'])} "
            f"({_fmt(r.auc_true_pd)}) "
            f"| {_fmt(s['auc_loans'])} / {_fmt(c['auc_loans'])} | {_pct(s['approval_rate'])} / "
            f"{_pct(c['approval_rate'])} / {_pct(u['approval_rate'])} | {_pct(s['bad_rate'])} / {_pct(c['bad_rate'])} "
            f"/ {_pct(u['bad_rate'])} | {_m(s['expected_profit_cny'])} / {_m(c['expected_profit_cny'])} / "
            f"{_m(u['expected_profit_cny'])} | {_fmt(s['ece'])} / {_fmt(c['ece'])} | {r.loans.n} "
            f"({r.loans.test_loans}) | {retrain} |"
        )
    return "\n".join(lines)


def _setup(meta: dict[str, Any]) -> str:
    config, cold = meta["config"], meta["cold_start"]
    banks = "\n".join(
        f"- `{b['bank_id']}`: rate {_pct(b['rate'])}, {_pct(b['pool_share'])} of open entities ask each "
        f"round, lends on approve{' and refer' if b['take_refer'] else ''} (amount = min(limit, asked)), "
        f"test loans to {_pct(b['explore_share'])} of lawful declines (at most CNY {b['explore_cap_cny']:,.0f}), "
        f"promotion {b['promotion']}"
        for b in config["banks"]
    )
    econ = config["economics"]
    return f"""## Set-up
- Platform: {meta["store"]["entities"]:,} entities, seed {config["seed"]}; rounds every {config["months_per_round"]}
  months: {", ".join(meta["dates"])}. Pooling: {"on (every bank opted in)" if config["pooling"] else "off"}.
{banks}
- Economics of a 12-month loan of amount A: a good loan earns A x (rate - funding cost {_pct(econ["funding_cost"])});
  a default loses A x LGD {_pct(econ["lgd"])}. *Expected* profit uses the true PD of the synthetic platform,
  *realised* profit the seeded default draws.
- Cold start: `precredit-platform` v{cold["version"]} trained on public records known by {cold["data_end"]}
  (observation dates {" to ".join(cold["observation_dates"])}, labels ingested by {cold["data_end"]});
  out-of-time AUC on its own label {_fmt(cold["auc_oot_platform_label"])}.{_override(cold)}
- Promotion gate: calibration limit ECE {config["max_ece"]}, or the sampling noise of the test loans where larger; a bank retrains once it has reported
  {config["min_defaults_to_retrain"]} matured defaults and new outcomes arrived.
- Declined applicants in retraining: `{config.get("reject_inference", "none")}`; loans still maturing:
  `{config.get("maturing", "none")}` (docs/retraining.md); each retraining's gate sample is in report.json.
- {gate_difference(meta.get("gate_vs_production", []))}"""


def _override(cold: dict[str, Any]) -> str:
    reasons = cold.get("gate_override")
    return f" Its gate failed ({reasons}); promoted by a recorded override." if reasons else ""


def gate_difference(differences: list[dict[str, Any]]) -> str:
    """One line: the gate settings match production, or which differ and by how much."""
    if not differences:
        return "Gate settings: as in production."
    parts = [
        f"{d['setting']} {d['simulation']} here, {d['production']} in production "
        f"({d['difference']:+.4g})"
        for d in differences
    ]
    return "Gate settings differ from production: " + "; ".join(parts) + "."


def _tenancy(summaries: dict[str, Any], pooling: bool) -> str:
    lines = [
        f"- `{b}` models were trained on: {', '.join(s['retraining']['data_tenants']) or 'no retraining'}"
        for b, s in summaries.items()
    ]
    alone = all(s["retraining"]["data_tenants"] in ([], [b]) for b, s in summaries.items())
    verdict = (
        "No bank's model was trained on another bank's outcomes (MLflow param `data_tenants`)."
        if alone
        else "Pooling put other banks' outcomes into these models' training splits."
    )
    note = "" if pooling or alone else "\n\n**Warning: outcomes crossed banks without pooling.**"
    return "## Tenancy\n" + "\n".join(lines) + "\n\n" + verdict + note


def _leakage(meta: dict[str, Any]) -> str:
    checks = meta["leakage"]
    return f"""## No look-ahead
- The cold-start model saw only observations whose 12-month label window closed by the first round
  date, and only events the platform had ingested by then.
- Each round's snapshot is rebuilt as of the round date (the API answered from snapshot dates
  {", ".join(sorted(set(checks["snapshot_dates"])))}).
- {checks["outcomes_posted"]:,} outcomes were posted, each on the first round date on or after its loan's 12-month
  window closed (earliest report {checks["min_days_after_maturity"]} days after maturity); loans still open when the
  run ended ({checks["outcomes_unposted"]:,}) were never reported. Retraining as of a date uses only loans matured by it."""


CAVEATS = """## How to read this
- Every applicant's default is drawn once from the ground truth as if it had borrowed, so the loop,
  the cold-start model and the rule are compared on the same rows (all applicants). Only the loans a
  bank granted are reported to the API; AUC on the bank's own loans is what the bank itself could
  measure, and it is narrowed by the bank's own selection.
- The cold-start model estimates a different event (an adverse public-credit record within 12 months),
  so its PDs are not calibrated to loan default: that is the first thing a bank's own model fixes.
- Offers are made on the round date from that date's snapshot and drawn during the round; retraining
  computes each loan's features as of its draw date, the project's point-in-time convention.
- Per-round AUCs rest on a few hundred defaults; read the bootstrap interval before a small gain."""


def markdown(report: SimulationReport) -> str:
    """The report as markdown: verdict, set-up, tenancy, no look-ahead, per-round tables, plots."""
    meta: dict[str, Any] = dict(report.meta)
    summaries = report.summary
    verdicts = "\n\n".join(statement(b, s) for b, s in summaries.items())
    tables = "\n\n".join(
        f"### {b}\n\n" + _round_table([r for r in report.records if r.bank == b]) for b in summaries
    )
    plots = "\n".join(f"![{name}]({name})" for name in PLOTS)
    return (
        f"# Lending simulation: does the outcome loop improve the model?\n\n## Verdict\n\n{verdicts}\n\n"
        f"{_setup(meta)}\n\n{_tenancy(summaries, meta['config']['pooling'])}\n\n{_leakage(meta)}\n\n"
        f"## Per round\n\nAUC and rates on all applicants of the round (the loop's model, the cold-start "
        f"model, the rule); profit in CNY millions.\n\n{tables}\n\n## Plots\n\n{plots}\n\n{CAVEATS}\n"
    )


def build(records: Sequence[Record], meta: dict[str, Any]) -> SimulationReport:
    """The report: metadata, one record per round and bank, the summary."""
    return SimulationReport.model_validate(
        {"meta": meta, "records": list(records), "summary": summarise(records, meta)}
    )


def write(report: SimulationReport, directory: Path) -> list[Path]:
    """Write report.json, report.md and the plots into `directory`; returns the paths."""
    directory.mkdir(parents=True, exist_ok=True)
    document = report.model_dump(mode="json", exclude_unset=True)
    files: dict[str, str | bytes] = {
        "report.json": json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False),
        "report.md": markdown(report),
        **render(report.records),
    }
    for name, content in files.items():
        (directory / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    return [directory / name for name in files]
