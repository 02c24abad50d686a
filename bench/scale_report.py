"""Write the capacity plan (`docs/scale.md`) and its plots from `bench_scale.py`'s measurements.

Measured figures come from the cache as they are; every figure at a size not measured is
computed by `scale_fit` (the last segment's log-log slope, never below linear) and marked
*extrapolated*. Plots go to `<report dir>/scale/` (matplotlib, Agg backend, no network).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import scale_fit

PROVINCE = 18_000_000  # Guangdong's market entities (about)
NATION = 185_000_000
TARGETS = (("Guangdong", PROVINCE), ("nation", NATION))
WINDOW_HOURS = 4.0  # a nightly run must fit between the day's last ingest and the morning
NODE_CORES, NODE_GIB = 16, 64  # the planning unit: one cluster node
LABELS = {
    "generate": "generate (synthetic platform + Parquet export)",
    "features_duckdb": "features, DuckDB (one process)",
    "features_spark": "features, Spark local[2] (incl. session start)",
    "offers_single": "offers + top-5 reasons, one machine",
    "offers_spark": "offers + top-5 reasons, Spark local[2]",
    "train_single": "training, LightGBM one process",
    "train_dask": "training, Dask 2 workers",
}
SPARK_STEPS = ("features_spark", "offers_spark")


def _points(data: dict[str, Any], step: str, field: str) -> list[tuple[float, float]]:
    rows = [p for p in data["points"].values() if p["step"] == step and p["ok"]]
    return sorted((p["entities"], p[field]) for p in rows)


def _steps(data: dict[str, Any]) -> list[str]:
    return [s for s in LABELS if _points(data, s, "wall_seconds")]


def _fmt(x: float) -> str:
    if x >= 100:
        return f"{x:,.0f}"
    return f"{x:.3g}" if x < 10 else f"{x:.1f}"


def _measured_table(data: dict[str, Any]) -> list[str]:
    lines = [
        "| stage | entities | wall s | CPU s | peak RSS MiB | load (1 min) before / after | notes |",
        "|---|---|---|---|---|---|---|",
    ]
    for step in _steps(data):
        for p in sorted(
            (p for p in data["points"].values() if p["step"] == step and p["ok"]),
            key=lambda p: p["entities"],
        ):
            load = f"{p['load_before'][0]:.1f} / {p['load_after'][0]:.1f}"
            lines.append(
                f"| {step} | {p['entities']:,} | {_fmt(p['wall_seconds'])} | "
                f"{_fmt(p['cpu_seconds'])} | {_fmt(p['peak_rss_mib'])} | {load} | {_notes(p)} |"
            )
    return lines


def _notes(point: dict[str, Any]) -> str:
    detail = point.get("detail", {})
    keys = (
        "session_start_seconds",
        "first_seconds",
        "warm_seconds",
        "seconds",
        "cpu",
        "snapshot_seconds",
        "generate_seconds",
        "export_seconds",
        "run_seconds",
        "rows",
        "frame_seconds",
        "cluster_start_seconds",
        "fit_seconds",
        "auc",
    )
    return ", ".join(f"{k} {detail[k]}" for k in keys if detail.get(k) is not None)


def _slopes(data: dict[str, Any]) -> list[str]:
    lines = [
        "| stage | slope, wall (all points) | wall slope per segment | CPU slope per segment | memory slope per segment |",
        "|---|---|---|---|---|",
    ]
    for step in _steps(data):
        wall = _points(data, step, "wall_seconds")
        if len(wall) < 2:
            continue
        cells = [f"{scale_fit.fit(wall).slope:.2f}"]
        for field in ("wall_seconds", "cpu_seconds", "peak_rss_mib"):
            segs = scale_fit.segments(_points(data, step, field))
            cells.append(
                ", ".join(f"{s.low // 1000}k-{s.high // 1000}k: {s.slope:.2f}" for s in segs)
            )
        lines.append(f"| {step} | " + " | ".join(cells) + " |")
    return lines


def extrapolate(data: dict[str, Any], step: str, field: str, n: int) -> float | None:
    """The figure of `step` at `n` entities from its measured points (None: fewer than two)."""
    return scale_fit.predict(_points(data, step, field), n)


def _memory(data: dict[str, Any], step: str, n: int) -> str:
    """One process's memory at n: fitted from two or more sizes; Spark's is set, not grown."""
    if step in SPARK_STEPS:
        return "per executor: its heap (4 GB here), Spark spills beyond"
    points = _points(data, step, "peak_rss_mib")
    if len(points) < 2:
        return "n/a (one size measured)"
    return f"{_fmt(scale_fit.tail(points)(n) / 1024)} GiB"


def _basis(data: dict[str, Any], step: str) -> str:
    """Which measured sizes an extrapolation rests on."""
    sizes = [int(n) for n, _ in _points(data, step, "cpu_seconds")]
    if len(sizes) == 1:
        return f"linear from {sizes[0] // 1000}k only"
    return f"last segment {sizes[-2] // 1000}k-{sizes[-1] // 1000}k (at least linear)"


def _plan(data: dict[str, Any]) -> list[str]:
    lines = [
        "| stage | where | CPU hours (extrapolated) | cores for a 4-hour window | memory, one process (extrapolated) | basis |",
        "|---|---|---|---|---|---|",
    ]
    for name, n in TARGETS:
        for step in _steps(data):
            cpu = extrapolate(data, step, "cpu_seconds", n)
            if cpu is None:
                continue
            cores = cpu / 3600 / WINDOW_HOURS
            lines.append(
                f"| {step} | {name} ({n / 1e6:.0f}M) | {_fmt(cpu / 3600)} | {_fmt(cores)} | "
                f"{_memory(data, step, n)} | {_basis(data, step)} |"
            )
    return lines


def _plot(data: dict[str, Any], field: str, ylabel: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    top = NATION
    for step in _steps(data):
        points = _points(data, step, field)
        xs, ys = zip(*points, strict=True)
        (line,) = ax.plot(xs, ys, "o-", label=f"{step} (measured)")
        end = scale_fit.predict(points, top)
        if end is not None:
            ax.plot([xs[-1], top], [ys[-1], end], "--", color=line.get_color(), alpha=0.6)
    for name, n in TARGETS:
        ax.axvline(n, color="grey", lw=0.8)
        ax.text(
            n,
            0.02,
            f" {name}",
            rotation=90,
            va="bottom",
            fontsize=8,
            transform=ax.get_xaxis_transform(),
        )
    ax.set(xscale="log", yscale="log", xlabel="entities", ylabel=ylabel)
    ax.set_title(f"{ylabel}: measured (solid) and extrapolated (dashed)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90, metadata={"Software": None})
    plt.close(fig)


BEGIN, END = "<!-- bench_scale:begin -->", "<!-- bench_scale:end -->"


def write(data: dict[str, Any], report: Path) -> None:
    """Plots under `<report dir>/scale/`; the tables between the report's markers (or alone)."""
    figures = report.parent / "scale"
    figures.mkdir(parents=True, exist_ok=True)
    _plot(data, "wall_seconds", "wall seconds", figures / "time.png")
    _plot(data, "cpu_seconds", "CPU seconds", figures / "cpu.png")
    _plot(data, "peak_rss_mib", "peak RSS of the process tree, MiB", figures / "memory.png")
    body = [
        "## Measured",
        "",
        *_measured_table(data),
        "",
        "![wall seconds](scale/time.png)",
        "![CPU seconds](scale/cpu.png)",
        "![peak memory](scale/memory.png)",
        "",
        "## Growth (log-log slopes: 1 is linear, below 1 a fixed cost still dominates)",
        "",
        *_slopes(data),
        "",
        "## Extrapolated to a province and the nation",
        "",
        *_plan(data),
    ]
    generated = "\n".join([BEGIN, *body, END])
    text = report.read_text() if report.is_file() else ""
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        generated = head + generated + rest.split(END, 1)[1]
    elif text:
        generated = text.rstrip("\n") + "\n\n" + generated
    report.write_text(generated.rstrip("\n") + "\n")
