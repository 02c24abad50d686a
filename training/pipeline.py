"""`precredit train` on the platform store: dataset -> train -> MLflow -> gate -> promotion."""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from catalog import store
from catalog.errors import InvalidInput
from features.definitions import REGISTRY
from models.boosting import Boosting
from models.policy import ProductPolicy
from models.preapproval import PreapprovalModel
from synthetic.truth import attach_truth
from training import metrics, report, tracking
from training.dataset import outcome_training_set, platform_training_set, store_end
from training.drift import FEATURE_REFERENCE, feature_reference
from training.gate import GateConfig, GateRows, GateVerdict, evaluate_gate
from training.promotion import (
    AUTO_APPROVER,
    REQUESTED_BY_TAG,
    Approval,
    PromotionRecord,
    promote,
)
from training.table_model import WoeScorecard
from training.train import (
    TrainConfig,
    TrainResult,
    data_fingerprint,
    fit_base,
    out_of_time_start,
    spec_for_scopes,
    train,
)

Label = Literal["platform", "outcomes"]
Scope = Literal["full", "public"]
PUBLIC_SCOPES = ("public_records",)  # what the public-records-only platform model may read


@dataclass(frozen=True)
class PipelineConfig:
    """Where things live and how the run behaves."""

    store_path: Path
    tracking_uri: str
    artifact_root: Path
    seed: int = 42
    per_date: int = 6_000
    auto_promote: bool = True
    min_own_defaults: int = 200
    actor: str = "precredit train"
    requested_by: str | None = None  # the identity that asked for this training (maker-checker)
    gate: GateConfig = field(default_factory=GateConfig)
    end: dt.date | None = None  # last day of platform data a run may use (None: the store's end)
    boosting: Boosting | None = None  # where the trees grow (None: LightGBM in this process)


@dataclass(frozen=True)
class PipelineResult:
    """What one run produced."""

    tenant: str
    run_id: str
    version: str
    metrics: dict[str, float]
    verdict: GateVerdict
    promoted: bool
    promotion: PromotionRecord | None = None  # set when auto-promoted: the caller records it

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (the metrics JSON of `precredit train`)."""
        return self.metrics | {
            "tenant": self.tenant,
            "run_id": self.run_id,
            "version": self.version,
            "gate": self.verdict.to_dict(),
            "promoted": self.promoted,
        }


def observation_dates(end: dt.date, years: int = 3) -> list[dt.date]:
    """Quarter ends of the `years` before the last 12 months (mature cold-start observations)."""
    last = pd.Timestamp(end) - pd.DateOffset(months=12)
    quarters = pd.date_range(last - pd.DateOffset(years=years), last, freq="QE")
    return [q.date() for q in quarters]


def build_frame(
    con: store.Connection, label: Label, tenant: str, config: PipelineConfig
) -> pd.DataFrame:
    """The labelled feature frame for a label and tenant (with truth columns on synthetic stores)."""
    if label == "platform":
        end = config.end or store_end(con)
        frame = platform_training_set(
            con, observation_dates(end), config.per_date, config.seed, config.end
        )
    else:
        frame = outcome_training_set(con, None if tenant == "platform" else tenant)
    return attach_truth(con, frame)


SCORE_REFERENCE = "score_reference.json"
SCORECARD = "woe_scorecard.json"  # the gate's WoE scorecard as tables, for back-testing later
REFERENCE_SAMPLE = 20_000


def score_reference(result: TrainResult) -> dict[str, Any]:
    """The training split's PD distribution, frozen: PSI bin edges and a seeded sample."""
    train_pd = result.model.predict_proba(result.splits["train"])
    rng = np.random.default_rng(result.model.seed)
    sample = (
        train_pd
        if len(train_pd) <= REFERENCE_SAMPLE
        else rng.choice(train_pd, REFERENCE_SAMPLE, replace=False)
    )
    return {
        "inner_edges": metrics.psi_reference(train_pd)[1:-1].tolist(),
        "pd_sample": [float(v) for v in sample],
    }


def _review_files(
    result: TrainResult, tenant: str, label: str, fingerprint: str, verdict: GateVerdict
) -> dict[str, str | bytes]:
    files: dict[str, str | bytes] = {
        "model_card.md": report.model_card(result, tenant, label, fingerprint, verdict.to_dict()),
        "calibration.png": report.calibration_plot(result.tables["calibration"]),
        "shap_summary.png": report.shap_summary(result),
        "shap_beeswarm.png": report.shap_beeswarm(result),
        "shap_dependence.png": report.shap_dependence(result),
        "grade_table.csv": result.tables["grades"].to_csv(),
        "calibration_table.csv": result.tables["calibration"].to_csv(index=False),
        "baselines.csv": result.tables["baselines"].to_csv(index=False),
        "gate.json": json.dumps(verdict.to_dict(), indent=2),
        SCORE_REFERENCE: json.dumps(score_reference(result)),
        FEATURE_REFERENCE: json.dumps(feature_reference(result.splits["train"], result.model.spec)),
    }
    return files | _scorecard_file(result)


def _scorecard_file(result: TrainResult) -> dict[str, str | bytes]:
    """The WoE scorecard `evaluate` fitted on the training rows, as tables (no pickle)."""
    if result.scorecard is None:
        return {}
    spec = result.model.spec
    n_codes = {name: len(spec.categories[name]) for name in spec.categorical}
    return {SCORECARD: json.dumps(WoeScorecard.of(result.scorecard, n_codes).to_dict())}


def _champion(client: Any, tenant: str, workdir: Path) -> PreapprovalModel | None:
    version = tracking.version_by_alias(client, tenant, tracking.CHAMPION)
    return tracking.load_native(client, version.run_id, workdir) if version else None


def run(
    label: Label,
    tenant: str,
    config: PipelineConfig,
    policy: ProductPolicy | None = None,
    scope: Scope = "full",
) -> PipelineResult:
    """Train a challenger for `tenant`, log and register it, gate it, and promote it if it passes.

    `scope="public"` trains the public-records-only platform model (`tracking.PUBLIC_OWNER`):
    features reading tax, social-insurance or utilities records are left out of its training.
    """
    if scope == "public":
        if label != "platform" or tenant not in ("platform", tracking.PUBLIC_OWNER):
            raise InvalidInput("--scope public trains the platform's public-records-only model")
        tenant = tracking.PUBLIC_OWNER
    elif label == "platform" and tenant != "platform":
        raise InvalidInput("the cold-start label trains the platform model: use --tenant platform")
    spec = spec_for_scopes(PUBLIC_SCOPES) if scope == "public" else None
    train_config = TrainConfig(seed=config.seed, spec=spec, boosting=config.boosting)
    with store.connect(config.store_path, read_only=True) as con:
        frame = build_frame(con, label, tenant, config)
        base = None
        if label == "outcomes" and int(frame["label"].sum()) < config.min_own_defaults:
            # Too few defaults of its own: boost from a platform model trained on public records
            # whose 12-month windows closed before this bank's out-of-time test period.
            platform = build_frame(con, "platform", "platform", config)
            base = fit_base(platform, out_of_time_start(frame), train_config)
    result = train(frame, policy, train_config, base=base)
    client = tracking.connect(config.tracking_uri, config.artifact_root)
    with tempfile.TemporaryDirectory() as tmp:
        champion = _champion(client, tenant, Path(tmp))
    defaults, card = int(result.metrics["train_defaults"]), result.metrics["auc_scorecard"]
    rows = GateRows.from_splits(result.splits, defaults, card)
    verdict = evaluate_gate(result.model, champion, rows, config.gate)
    extra: dict[str, Any] = {} if config.end is None else {"data_end": config.end.isoformat()}
    extra |= (config.boosting or Boosting()).engine.describe()
    return register(client, tenant, Challenger(label, frame, result, verdict), config, extra)


@dataclass(frozen=True)
class Challenger:
    """A trained and gated model with the label and rows it learnt from, ready to register."""

    label: str
    frame: pd.DataFrame
    result: TrainResult
    verdict: GateVerdict


def register(
    client: Any, tenant: str, challenger: Challenger, config: PipelineConfig, extra: dict[str, Any]
) -> PipelineResult:
    """Log the run with its review files, register the challenger, promote it if allowed."""
    label, frame, result, verdict = (
        challenger.label,
        challenger.frame,
        challenger.result,
        challenger.verdict,
    )
    fingerprint = data_fingerprint(frame)
    params = {
        "label": label,
        "tenant": tenant,
        "seed": config.seed,
        "rows": len(frame),
        "calibrator": result.model.calibrator_.method,
        "data_fingerprint": fingerprint,
        "data_scope": ",".join(sorted(REGISTRY.data_scopes(result.model.spec.names))),
    } | extra
    record = tracking.RunRecord(
        result.model,
        params,
        result.metrics | {"gate_passed": float(verdict.passed)},
        result.splits["test"],
        _review_files(result, tenant, label, fingerprint, verdict),
        {"label": label, "tenant": tenant}
        | ({} if config.requested_by is None else {REQUESTED_BY_TAG: config.requested_by}),
    )
    run_id, version = tracking.log_run(client, tenant, record)
    promotion = None
    if verdict.passed and config.auto_promote:
        why = "gate passed: " + _passed(verdict)
        promotion = promote(client, tenant, version, Approval(AUTO_APPROVER, why))
    return PipelineResult(
        tenant, run_id, version, result.metrics, verdict, promotion is not None, promotion
    )


def _passed(verdict: GateVerdict) -> str:
    return "; ".join(f"{c.name} {c.value:.4g} (limit {c.threshold:.4g})" for c in verdict.checks)
