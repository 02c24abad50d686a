"""The monitoring report of one tenant: markdown, PNG plots and the JSON result (pure).

`render(result)` turns what `serving.monitor.run` returns into files: `monitor.json`,
`report.md`, per model version a PSI chart, a score-distribution chart and (once outcomes
mature) a vintage chart, and the decision-mix chart.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from functools import partial
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from serving.monitor.result import (
    DecisionMix,
    LinkedRow,
    ModelMonitoring,
    MonitoringResult,
    Performance,
    Stability,
    Thresholds,
)

TOP_FEATURES = 15
PLOTTED_FEATURES = 20
SCOPES = {"decisions": "decisions (window)", "market": "market (snapshot)"}


def _png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def _psi_by_feature(model: ModelMonitoring) -> dict[str, dict[str, float]]:
    """feature -> scope -> PSI, the most shifted feature (in either scope) first."""
    table: dict[str, dict[str, float]] = {}
    for scope, result in model.scopes.items():
        for row in result.features:
            table.setdefault(row.feature, {})[scope] = row.psi
    return dict(sorted(table.items(), key=lambda item: -max(item[1].values())))


def psi_plot(model: ModelMonitoring, thresholds: Thresholds) -> bytes:
    """Horizontal bars: PSI of the most shifted features per population, with the two levels."""
    top = list(_psi_by_feature(model).items())[:PLOTTED_FEATURES][::-1]
    fig, ax = plt.subplots(figsize=(8, 0.3 * max(len(top), 4) + 1.5))
    y = np.arange(len(top))
    for offset, scope in ((-0.2, "decisions"), (0.2, "market")):
        ax.barh(
            y + offset, [psis.get(scope, 0.0) for _, psis in top], height=0.4, label=SCOPES[scope]
        )
    for level, style in (("warn", ":"), ("alert", "--")):
        value = getattr(thresholds, level)
        ax.axvline(value, color="grey", linestyle=style, label=f"{level} {value}")
    ax.set_yticks(y, [name for name, _ in top])
    ax.set(xlabel="PSI against the training reference", title=f"Feature stability: {model.slug}")
    ax.legend(loc="lower right")
    return _png(fig)


def score_plot(model: ModelMonitoring) -> bytes:
    """Share of PDs per frozen score bin: training reference against each population."""
    rows = {scope: r.score for scope, r in model.scopes.items() if r.score}
    fig, ax = plt.subplots(figsize=(8, 4))
    if rows:
        first = next(iter(rows.values()))
        edges = first.inner_edges
        labels = [f"<={e:.3f}" for e in edges] + [f">{edges[-1]:.3f}" if edges else "all"]
        x = np.arange(len(labels))  # a PD is never missing: its last (missing) bin is left out
        ax.bar(x - 0.27, first.reference_shares[:-1], width=0.27, label="training reference")
        for offset, (scope, row) in zip((0.0, 0.27), rows.items(), strict=False):
            ax.bar(
                x + offset,
                row.actual_shares[:-1],
                width=0.27,
                label=f"{SCOPES[scope]} PSI {row.psi:.3f}",
            )
        ax.set_xticks(x, labels, rotation=45, ha="right")
        ax.legend()
    ax.set(ylabel="share", title=f"Score (PD) distribution: {model.slug}")
    return _png(fig)


def vintage_plot(perf: Performance) -> bytes:
    """Bad rate and mean PD by vintage, and AUC where a vintage has enough defaults."""
    rows = perf.vintages
    x = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.plot(x, [r.bad_rate for r in rows], marker="o", label="observed bad rate")
    ax.plot(x, [r.mean_pd for r in rows], marker="s", label="mean PD")
    ax.set_xticks(x, [r.vintage for r in rows], rotation=45, ha="right")
    ax.set(ylabel="rate", title="Realised performance by vintage (application quarter)")
    right = ax.twinx()
    right.plot(
        x,
        [np.nan if r.auc is None else r.auc for r in rows],
        color="black",
        linestyle="--",
        marker="^",
        label="AUC",
    )
    right.set(ylabel="AUC", ylim=(0.4, 1.0))
    ax.legend(loc="upper left")
    right.legend(loc="upper right")
    return _png(fig)


def mix_plot(mix: DecisionMix) -> bytes:
    """Stacked shares of approve / refer / decline per period (all model versions)."""
    periods: dict[str, dict[str, int]] = {}
    for row in mix.rows:
        counts = periods.setdefault(row.period, {"approve": 0, "refer": 0, "decline": 0})
        for decision in counts:
            counts[decision] += getattr(row, decision)
    x = np.arange(len(periods))
    fig, ax = plt.subplots(figsize=(8, 4))
    bottom = np.zeros(len(periods))
    for decision, color in (
        ("approve", "tab:green"),
        ("refer", "tab:orange"),
        ("decline", "tab:red"),
    ):
        shares = np.array([c[decision] / max(sum(c.values()), 1) for c in periods.values()])
        ax.bar(x, shares, bottom=bottom, color=color, label=decision)
        bottom += shares
    ax.set_xticks(x, list(periods), rotation=45, ha="right")
    ax.set(ylabel="share of decisions", title=f"Decision mix by {mix.period}")
    ax.legend()
    return _png(fig)


def _fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _psi_cell(row: Stability | None) -> str:
    if row is None:
        return "-"
    return f"{row.psi:.3f}" + ("" if row.level == "ok" else f" **{row.level}**")


def _header(result: MonitoringResult) -> str:
    """Title, verdict, and what was compared with which thresholds."""
    summary, retrain, window = result.summary, result.retrain, result.window
    t, served = result.thresholds, result.serving
    return f"""# Model and data monitoring: {result.tenant}, {result.as_of}

**{summary.alert} alert(s), {summary.warn} warning(s)**; retraining drift trigger: **{"fired" if retrain.drift else "not fired"}** ({retrain.reason}).

- Serving now: {"no model" if served is None else f"{served.name} v{served.version}"}.
- Decisions window: {window.start[:10]} to {window.end[:10]} ({window.days} days, end exclusive); platform snapshot as of {result.snapshot_as_of or "-"}.
- PSI against the reference frozen at training: warn at >= {t.warn}, alert at >= {t.alert}; a population with fewer than {t.min_rows} rows gets no PSI."""


def _stability(model: ModelMonitoring) -> str:
    """One version's stability: both populations, the most shifted features, the charts."""
    ref = model.reference
    lines = [
        f"## {model.name} v{model.version}{' (serving)' if model.serving else ''}",
        "",
        f"Reference: {ref.source}; {ref.rows or 0:,} training rows, observations "
        f"{ref.as_of_first or '-'} to {ref.as_of_last or '-'}.",
        "",
        "| population | rows | status | score PSI | features ok / warn / alert |",
        "|---|---|---|---|---|",
    ]
    for scope, r in model.scopes.items():
        levels = [f.level for f in r.features]
        counts = " / ".join(str(levels.count(level)) for level in ("ok", "warn", "alert"))
        lines.append(
            f"| {SCOPES[scope]} | {r.rows:,} | {r.status} | {_psi_cell(r.score)} | {counts} |"
        )
    by_scope = {s: {f.feature: f for f in r.features} for s, r in model.scopes.items()}
    top = list(_psi_by_feature(model))[:TOP_FEATURES]
    if top:
        lines += [
            "",
            f"Most shifted features (top {len(top)}):",
            "",
            "| feature | decisions PSI | market PSI |",
            "|---|---|---|",
        ]
        lines += [
            f"| `{n}` | {_psi_cell(by_scope['decisions'].get(n))} | {_psi_cell(by_scope['market'].get(n))} |"
            for n in top
        ]
    lines += [
        "",
        f"![feature PSI](psi_{model.slug}.png)",
        "",
        f"![score distribution](score_{model.slug}.png)",
    ]
    return "\n".join(lines)


def _performance(model: ModelMonitoring, files: dict[str, Any]) -> str:
    """One version's realised performance: by vintage and by grade."""
    perf = model.performance
    if not perf.matured_loans:
        return "### Realised performance\n\nNo matured outcomes yet (a loan counts 12 months after its application)."
    lines = [
        f"### Realised performance by vintage: {perf.matured_loans:,} matured loans, "
        f"{perf.bads:,} defaults, AUC {_fmt(perf.auc)}",
        "",
        "PD of this version, point in time as of each application date; * marks vintages "
        "within the period of its training observations (not out-of-time evidence).",
        "",
        "| vintage | loans | defaults | bad rate | mean PD | AUC |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {v.vintage}{' *' if v.in_training_period else ''} | {v.loans:,} | {v.bads:,} | "
        f"{v.bad_rate:.2%} | {v.mean_pd:.2%} | {_fmt(v.auc)} |"
        for v in perf.vintages
    ]
    lines += [
        "",
        "Bad rate by grade (all matured loans):",
        "",
        "| grade | loans | defaults | bad rate | mean PD |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {g.grade} | {g.loans:,} | {g.bads:,} | {g.bad_rate:.2%} | {g.mean_pd:.2%} |"
        for g in perf.grades
    ]
    if f"vintages_{model.slug}.png" in files:
        lines += ["", f"![vintages](vintages_{model.slug}.png)"]
    return "\n".join(lines)


def _mix(mix: DecisionMix) -> str:
    """The decision mix table."""
    if not mix.rows:
        return f"## Decision mix by {mix.period}\n\nNo decisions in the last year."
    lines = [
        f"## Decision mix by {mix.period}",
        "",
        "| period from | model | decisions | approve | refer | decline |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r.period} | {r.model} | {r.decisions:,} | {r.approve_share:.1%} | "
        f"{r.refer_share:.1%} | {r.decline_share:.1%} |"
        for r in mix.rows
    ]
    return "\n".join([*lines, "", "![decision mix](decision_mix.png)"])


def _linked(rows: list[LinkedRow]) -> str:
    """Matured loans by what decided them: the model version, product and policy behind each."""
    title = "## Realised performance by decision, model version and product"
    if not rows:
        return (
            f"{title}\n\nNo matured loan linked to a decision, offer or financing answer yet "
            "(outcomes carry `decision_id`, `offer_id` or `financing_request_id`)."
        )
    lines = [
        title,
        "",
        "| linked to | model version | product | policy | decision | loans | bads | bad rate "
        "| mean PD |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r.source} | {r.model_version} | {r.product} | {r.policy_version or '-'} | "
        f"{r.decision} | {r.loans:,} | {r.bads:,} | {r.bad_rate:.2%} | {r.mean_pd:.2%} |"
        for r in rows
    ]
    return "\n".join(lines)


def plots(result: MonitoringResult) -> dict[str, Callable[[], bytes]]:
    """The report's plots by file name, each drawn when called (the console draws one)."""
    found: dict[str, Callable[[], bytes]] = {}
    for model in result.models:
        found[f"psi_{model.slug}.png"] = partial(psi_plot, model, result.thresholds)
        found[f"score_{model.slug}.png"] = partial(score_plot, model)
        if model.performance.vintages:
            found[f"vintages_{model.slug}.png"] = partial(vintage_plot, model.performance)
    if result.decision_mix.rows:
        found["decision_mix.png"] = partial(mix_plot, result.decision_mix)
    return found


def render(result: MonitoringResult) -> dict[str, str | bytes]:
    """Every file of the report, by name."""
    files: dict[str, str | bytes] = {"monitor.json": result.model_dump_json(indent=1)}
    files |= {name: draw() for name, draw in plots(result).items()}
    sections = [_header(result)]
    for model in result.models:
        sections += [_stability(model), _performance(model, files)]
    sections += [
        _mix(result.decision_mix),
        _linked(result.linked),
        "How to read this report: docs/monitoring.md.",
    ]
    files["report.md"] = "\n\n".join(sections) + "\n"
    return files
