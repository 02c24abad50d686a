"""Plots of the lending simulation, one panel per bank, rounds on the x axis (PNG bytes)."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from simulation.records import RoundRecord

SCORERS = {"served": "loop (model serving the bank)", "cold_start": "cold-start platform model",
           "rule": "tax-multiplier rule"}  # fmt: skip
COLOURS = {"served": "tab:blue", "cold_start": "tab:orange", "rule": "tab:grey"}
PLOTS = ("auc.png", "approval_rate.png", "bad_rate.png", "profit.png", "calibration.png")
Record = RoundRecord
Panel = Callable[[Axes, Sequence[Record]], None]


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def _series(records: Sequence[Record], scorer: str, key: str) -> list[float]:
    return [float("nan") if (v := r.scorers[scorer][key]) is None else float(v) for r in records]


def _promotions(ax: Axes, records: Sequence[Record]) -> None:
    """Dotted lines where the bank's own model started serving a new version."""
    previous = None
    for r in records:
        model = (r.serving_model.name, r.serving_model.version)
        if r.own_model and model != previous:
            ax.axvline(r.round, color="tab:green", linestyle=":", linewidth=1)
        previous = model


def _by_bank(records: Sequence[Record], panel: Panel, title: str, ylabel: str) -> bytes:
    banks = list(dict.fromkeys(r.bank for r in records))
    fig, axes = plt.subplots(1, len(banks), figsize=(5.5 * len(banks), 4), squeeze=False)
    for ax, bank in zip(axes[0], banks, strict=True):
        mine = [r for r in records if r.bank == bank]
        panel(ax, mine)
        _promotions(ax, mine)
        ax.set(
            title=f"{bank}: {title}",
            xlabel="round (green: own model starts serving)",
            ylabel=ylabel,
        )
        ax.set_xticks([r.round for r in mine])
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    return _png(fig)


def _lines(key: str, scale: float = 1.0) -> Panel:
    def draw(ax: Axes, records: Sequence[Record]) -> None:
        rounds = [r.round for r in records]
        for scorer in ("rule", "cold_start", "served"):  # the loop's line on top
            values = [v * scale for v in _series(records, scorer, key)]
            ax.plot(rounds, values, marker="o", color=COLOURS[scorer], label=SCORERS[scorer])

    return draw


def _calibration(ax: Axes, records: Sequence[Record]) -> None:
    rounds = [r.round for r in records]
    for scorer in ("served", "cold_start"):
        ax.plot(
            rounds,
            [v * 100 for v in _series(records, scorer, "mean_pd_approved")],
            "--",
            marker="x",
            color=COLOURS[scorer],
            label=f"{SCORERS[scorer]}: mean PD of approved %",
        )
        ax.plot(
            rounds,
            [v * 100 for v in _series(records, scorer, "bad_rate")],
            "-",
            marker="o",
            color=COLOURS[scorer],
            label=f"{SCORERS[scorer]}: realised bad rate %",
        )


def render(records: Sequence[Record]) -> dict[str, bytes]:
    """The report's plots by file name."""
    return {
        "auc.png": _by_bank(records, _lines("auc"), "AUC on all applicants", "AUC"),
        "approval_rate.png": _by_bank(
            records, _lines("approval_rate", 100.0), "approval rate", "%"
        ),
        "bad_rate.png": _by_bank(records, _lines("bad_rate", 100.0), "bad rate of approved", "%"),
        "profit.png": _by_bank(
            records, _lines("expected_profit_cny", 1e-6), "expected profit", "CNY million per round"
        ),
        "calibration.png": _by_bank(records, _calibration, "predicted vs realised (approved)", "%"),
    }
