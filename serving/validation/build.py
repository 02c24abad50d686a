"""Assemble the validation pack of one model version on one bank's matured loans.

The loans are the bank's own, matured by `as_of` (12-month window observed, or defaulted);
the version scores them again point in time (features as of each application date), as
monitoring does. See docs/validation.md for every test and its thresholds.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from scipy import stats
from sqlalchemy.orm import Session, sessionmaker

from catalog.errors import NotFound
from features.definitions import REGISTRY
from serving.config import Settings
from serving.db import linked, repo
from serving.decision.model_store import PLATFORM
from serving.monitor import references
from serving.validation import compare, inputs
from serving.validation.result import (
    AucComparison,
    Discriminations,
    FeaturePsi,
    ModelIdentity,
    Scope,
    Stability,
    ValidationPack,
    VintageCount,
)
from training import drift, performance, tracking, validation
from training.dataset import HORIZON_MONTHS
from training.migration import Migration, concentration, migration
from training.overrides import overrides
from training.soundness import monotonicity, reason_directions

SEGMENTS = {"reg_entity_type": "entity type", "reg_industry": "industry", "size": "size"}
NO_SCORECARD = (
    "back-testing against the WoE scorecard on the same window: this version's training run "
    "kept no scorecard (trained before review/woe_scorecard.json was kept)"
)


@dataclass(frozen=True)
class Loans:
    """The bank's matured loans with their model inputs and the version's PD and grade."""

    frame: pd.DataFrame
    pds: np.ndarray
    grades: np.ndarray


def resolve(client: MlflowClient, tenant_id: str, version: str | None) -> tuple[str, str]:
    """The version to validate: given, else the one serving the tenant (own champion, else platform)."""
    owners = list(dict.fromkeys((tenant_id, PLATFORM)))
    if version is not None:
        for owner in owners:
            try:
                client.get_model_version(tracking.model_name(owner), version)
            except MlflowException:
                continue
            return tracking.model_name(owner), version
        raise NotFound(f"no model version {version} serves tenant {tenant_id!r}")
    for owner in owners:
        found = tracking.version_by_alias(client, owner, tracking.CHAMPION)
        if found is not None:
            return tracking.model_name(owner), str(found.version)
    raise NotFound(f"no champion model serves tenant {tenant_id!r}")


def build(
    settings: Settings,
    sessions: sessionmaker[Session],
    tenant_id: str,
    as_of: dt.date,
    version: str | None = None,
) -> ValidationPack:
    """The pack of `version` (default: the serving one) on the tenant's loans matured by `as_of`."""
    with sessions() as session:
        if tenant_id != PLATFORM and repo.get_tenant(session, tenant_id) is None:
            raise NotFound(f"no tenant {tenant_id!r} in the service database")
        raw = inputs.loans(session, tenant_id, as_of)
        made = linked.preapprovals(session, tenant_id, raw)
    client = tracking.connect_client(settings.mlflow_uri)
    monitored = references.load(client, *resolve(client, tenant_id, version))
    loans = _scored(settings.store, monitored, raw)
    discrimination = _discrimination(loans, client, tenant_id, monitored)
    return ValidationPack(
        generated_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        model=_identity(client, monitored),
        scope=_scope(tenant_id, as_of, loans, monitored),
        discrimination=discrimination,
        calibration=_calibration(loans, monitored),
        stability=_stability(settings, monitored, loans, as_of),
        overrides=overrides(_linked(loans.frame, made)),
        soundness=monotonicity(monitored.model, loans.frame, _directions()),
        reason_directions=reason_directions(monitored.model, loans.frame, _directions()),
        not_covered=_not_covered(discrimination),
    )


def _not_covered(discrimination: Discriminations | None) -> list[str]:
    """What the pack could not test here (without defaults and goods, nothing is back-tested)."""
    if discrimination is None:
        return []
    roles = {c.role for c in discrimination.versus_versions}
    return [] if compare.SCORECARD_ROLE in roles else [NO_SCORECARD]


def _directions() -> dict[str, int]:
    """The registry's monotone direction of every feature."""
    return {f.name: int(f.monotone) for f in REGISTRY.features}


def _scored(store_path: Path, monitored: references.Monitored, raw: pd.DataFrame) -> Loans:
    if raw.empty:
        return Loans(raw, np.array([]), np.array([], dtype=str))
    features = inputs.features_at(store_path, raw["uscc"], raw["application_date"])
    frame = pd.concat(
        [raw.reset_index(drop=True), features.drop(columns=["uscc", "as_of"])], axis=1
    )
    pds = monitored.model.predict_proba(frame)
    return Loans(frame.assign(pd=pds), pds, monitored.model.scale.label(pds))


def _identity(client: MlflowClient, monitored: references.Monitored) -> ModelIdentity:
    dev = client.get_run(monitored.run_id).data.metrics.get("auc")
    return ModelIdentity(
        name=monitored.name,
        version=monitored.version,
        run_id=monitored.run_id,
        model_fingerprint=monitored.model.fingerprint(),
        registry_fingerprint=REGISTRY.fingerprint(),
        trained_through=(monitored.features or {}).get("as_of_last"),
        development_auc=None if dev is None else float(dev),
    )


def _scope(tenant_id: str, as_of: dt.date, loans: Loans, monitored: references.Monitored) -> Scope:
    frame = loans.frame
    empty = Scope(
        tenant=tenant_id, as_of=as_of.isoformat(), horizon_months=HORIZON_MONTHS,
        observation_first=None, observation_last=None, loans=0, defaults=0, vintages=[],
        grade_vintage=[], missing_rates={}, data_sha256="",
    )  # fmt: skip
    if frame.empty:
        return empty
    names = [n for n in monitored.model.spec.names if n in frame]
    dates = pd.to_datetime(frame["application_date"])
    through = (monitored.features or {}).get("as_of_last")
    return Scope.model_validate(
        empty.model_dump()
        | {
            "observation_first": pd.Timestamp(dates.min()).date().isoformat(),
            "observation_last": pd.Timestamp(dates.max()).date().isoformat(),
            "loans": len(frame),
            "defaults": int(frame["label"].sum()),
            "vintages": [_vintage(v).model_dump() for v in performance.by_vintage(frame, through)],
            "grade_vintage": performance.grade_by_vintage(
                frame.assign(grade=monitored.model.scale.grade(loans.pds), grade_label=loans.grades)
            ),
            "missing_rates": {n: float(frame[n].isna().mean()) for n in names},
            "data_sha256": inputs.data_hash(frame),
        }
    )


def _vintage(row: dict[str, object]) -> VintageCount:
    return VintageCount.model_validate(
        row | {"defaults": row["bads"], "default_rate": row["bad_rate"]}
    )


def _ranked(loans: Loans) -> bool:
    labels = loans.frame["label"] if len(loans.frame) else pd.Series([], dtype=int)
    return 0 < int(labels.sum()) < len(labels)


def _discrimination(
    loans: Loans, client: MlflowClient, tenant_id: str, monitored: references.Monitored
) -> Discriminations | None:
    if not _ranked(loans):
        return None
    frame = _segmented(loans.frame, dict(monitored.model.spec.categories))
    overall = validation.discrimination(frame["label"], loans.pds)
    segments = [
        row.model_copy(update={"segment": SEGMENTS[column]})
        for column in SEGMENTS
        if column in frame
        for row in validation.by_segment(frame, column)
    ]
    dev = client.get_run(monitored.run_id).data.metrics.get("auc")
    versus = None if dev is None else _versus(float(dev), frame["label"], loans.pds)
    card = compare.scorecard(client, monitored, loans.frame)
    return Discriminations(
        overall=overall,
        segments=segments,
        versus_development=versus,
        versus_versions=compare.comparisons(client, tenant_id, monitored, loans.frame)
        + ([] if card is None else [card]),
    )


def _segmented(frame: pd.DataFrame, categories: dict[str, tuple[str, ...]]) -> pd.DataFrame:
    """The loans with readable segments: category labels, and size as terciles of capital."""
    out = frame.assign(
        **{
            column: frame[column].map(dict(enumerate(categories[column])))
            for column in SEGMENTS
            if column in frame and column in categories
        }
    )
    if "reg_capital_log_cny" not in frame:
        return out
    capital = frame["reg_capital_log_cny"].astype("float64")
    size = pd.qcut(capital.rank(method="first"), 3, labels=["small", "medium", "large"])
    return out.assign(size=size.astype("string"))


def _versus(development: float, labels: pd.Series, pds: np.ndarray) -> AucComparison:
    """One-sided z-test of the current AUC against the development AUC (DeLong s.e.)."""
    current, variance = validation.delong(labels, pds)
    z = (current - development) / math.sqrt(variance) if variance > 0 else 0.0
    p_value = float(stats.norm.cdf(z))
    return AucComparison(
        development=development, current=current, difference=current - development,
        z=z, p_value=p_value, light=validation.light(p_value),
    )  # fmt: skip


def _calibration(loans: Loans, monitored: references.Monitored) -> validation.Calibration | None:
    if loans.frame.empty:
        return None
    return validation.calibration(loans.frame["label"], loans.pds, monitored.model.scale)


def _stability(
    settings: Settings, monitored: references.Monitored, loans: Loans, as_of: dt.date
) -> Stability:
    limits = drift.Thresholds(
        settings.monitor_psi_warn, settings.monitor_psi_alert, settings.monitor_min_rows
    )
    scope = drift.scope(monitored.features, monitored.score, loans.frame, loans.pds, limits)
    labels = monitored.model.scale.labels
    return Stability(
        reference=monitored.source if scope.get("status") != "too_few_rows" else "too few loans",
        score=None if scope["score"] is None else _psi(scope["score"]),
        features=[_psi(row) for row in scope["features"]],
        migration=_migration(settings.store, monitored, loans, as_of),
        concentration=concentration(loans.grades, labels) if len(loans.grades) else None,
    )


def _psi(row: dict[str, object]) -> FeaturePsi:
    return FeaturePsi(name=str(row["feature"]), psi=row["psi"], level=str(row["level"]))  # type: ignore[arg-type]


def _migration(
    store_path: Path, monitored: references.Monitored, loans: Loans, as_of: dt.date
) -> Migration | None:
    """Grades of the bank's borrowers a year before `as_of` against on `as_of`."""
    if loans.frame.empty:
        return None
    codes = pd.Series(sorted(set(loans.frame["uscc"])))
    start = as_of - dt.timedelta(days=365)
    graded = {}
    for day in (start, as_of):
        features = inputs.features_at(
            store_path, codes, pd.Series([pd.Timestamp(day)] * len(codes))
        )
        pds = monitored.model.predict_proba(features)
        graded[day] = pd.Series(monitored.model.scale.label(pds), index=codes.to_numpy())
    labels = monitored.model.scale.labels
    return migration(graded[start], graded[as_of], labels, (start.isoformat(), as_of.isoformat()))


def _linked(frame: pd.DataFrame, made: pd.DataFrame) -> pd.DataFrame:
    """Loans linked to one of the tenant's decisions, offers or financing answers, with the
    pre-approval's source, decision and limit."""
    columns = ["source", "decision", "limit_cny", "granted_amount_cny", "label"]
    if frame.empty or made.empty:
        return pd.DataFrame(columns=columns)
    joined = frame[["granted_amount_cny", "label"]].join(made)
    return joined.loc[joined["source"].notna(), columns]
