"""What a reviewer opens for a training run: plots, tables and the model card."""

from __future__ import annotations

import io
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from catalog import schema
from features.definitions import REGISTRY
from training.train import TrainResult


def _png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def calibration_plot(table: pd.DataFrame) -> bytes:
    """Observed bad rate against mean PD per bin, with the diagonal."""
    fig, ax = plt.subplots(figsize=(5, 5))
    top = float(max(table["mean_pd"].max(), table["bad_rate"].max()) * 1.1)
    ax.plot([0, top], [0, top], color="grey", linestyle="--", label="perfect")
    ax.plot(table["mean_pd"], table["bad_rate"], marker="o", label="model")
    ax.set(
        xlabel="mean predicted PD", ylabel="observed bad rate", title="Calibration (out of time)"
    )
    ax.legend()
    return _png(fig)


def shap_summary(result: TrainResult, rows: int = 2000) -> bytes:
    """Mean |TreeSHAP| per feature (top 20) on out-of-time rows."""
    test = result.splits["test"].head(rows)
    contributions = result.model.classifier_.contributions(test)[:, :-1]
    importance = pd.Series(np.abs(contributions).mean(axis=0), index=list(result.model.spec.names))
    top = importance.sort_values().tail(20)
    fig, ax = plt.subplots(figsize=(7, 6))
    ax.barh(top.index, top.to_numpy())
    ax.set(xlabel="mean |SHAP| (log-odds)", title="What drives the PD (out of time)")
    return _png(fig)


def _explanation(result: TrainResult, rows: int) -> Any:
    """A `shap.Explanation` of out-of-time rows from the model's own TreeSHAP values."""
    import shap  # training-side only: serving reads LightGBM's contributions directly

    test = result.splits["test"].head(rows)
    names = list(result.model.spec.names)
    contributions = result.model.classifier_.contributions(test)
    values = test[names].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    return shap.Explanation(
        values=contributions[:, :-1],
        base_values=contributions[:, -1],
        data=values,
        feature_names=names,
    )


def shap_beeswarm(result: TrainResult, rows: int = 2000) -> bytes:
    """SHAP beeswarm: each out-of-time row's contribution per feature, coloured by its value."""
    import shap

    shap.plots.beeswarm(_explanation(result, rows), max_display=20, show=False)
    fig = plt.gcf()
    fig.suptitle("TreeSHAP per row (out of time, log-odds)")
    return _png(fig)


def shap_dependence(result: TrainResult, rows: int = 2000, top: int = 3) -> bytes:
    """SHAP dependence of the `top` most important features: value against contribution."""
    import shap

    explanation = _explanation(result, rows)
    order = np.argsort(-np.abs(explanation.values).mean(axis=0))[:top]
    fig, axes = plt.subplots(1, top, figsize=(5 * top, 4))
    for ax, column in zip(np.atleast_1d(axes), order, strict=False):
        shap.plots.scatter(explanation[:, int(column)], ax=ax, show=False)
    return _png(fig)


def _features_by_category() -> str:
    lines = []
    for key, (zh, en) in schema.CATEGORIES.items():
        names = [f.name for f in REGISTRY.features if f.category == key]
        if names:
            lines.append(f"- **{zh} / {en}** ({len(names)}): {', '.join(f'`{n}`' for n in names)}")
    return "\n".join(lines)


TRANSFER = (
    "boosted from a platform model trained on public records only (cold-start label, 12-month "
    "windows closed before this test period): the bank's own loans learn only corrections on top "
    "of public-record risk (required below the minimum of own defaults, kept above it: the bank's "
    "loans are the applicants it approved and cannot validate a model of them alone on the rest). "
    "Chosen over pooling (it would "
    "train on other banks' loans, allowed only by mutual opt-in) and over recalibrating the platform "
    "model (it cannot learn what this bank's outcomes say about single features)."
)


def _transfer(result: TrainResult) -> str:
    return TRANSFER if result.model.base is not None else "none: trained on this data alone"


def model_card(
    result: TrainResult, tenant: str, label: str, fingerprint: str, verdict: dict[str, Any]
) -> str:
    """Markdown model card: data, label, features by catalog category, performance, limitations."""
    m = result.metrics
    label_text = {
        "platform": "adverse public-credit event within 12 months (court-debtor or serious-"
        "dishonesty listing, abnormal-operations listing, serious penalty)",
        "outcomes": "loan default (90+ DPD or written off) within 12 months of start; "
        "immature loans excluded",
    }.get(label, label)
    rows = "\n".join(f"| {k} | {v:.4f} |" for k, v in sorted(m.items()))
    return f"""# Model card: precredit-{tenant}

- **Label**: {label_text}
- **Data**: {int(m.get("n_train", 0))} training rows, {int(m.get("n_valid", 0))} validation rows,
  {int(m.get("n_rows", 0))} out-of-time test rows; data fingerprint `{fingerprint[:16]}`
- **Split**: by observation date: oldest 60% train, next 20% early stopping and calibrator choice
  ({result.model.calibrator_.method}), newest 20% test
- **Model**: LightGBM, monotone constraints from the feature registry, {int(m.get("best_iteration", 0))} trees;
  registry fingerprint `{REGISTRY.fingerprint()[:16]}`
- **Gate**: {"passed" if verdict.get("passed") else "failed"}
- **Transfer**: {_transfer(result)}

## Features by catalog category (only national catalog data; repaired or expired records never count)
{_features_by_category()}

## Out-of-time performance
| metric | value |
|---|---|
{rows}

## Limitations
- Trained on {"a synthetic platform" if "auc_oracle" in m else "platform data"}; outcomes exist only for
  loans the incumbent rule approved (selection bias): the model ranks within that population best.
- Few defaults make AUC and calibration noisy; read the test size above with every metric.
- Limits come from the product policy (capacity base, PD multiplier, caps, gates), not from the model.
"""
