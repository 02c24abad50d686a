"""Back-testing on the same window: the validated version against the other served versions.

The other versions are the tenant's champion and challenger and the platform's champion
(whichever exist and differ from the validated one), and the WoE scorecard the validated
version's training fitted on the same training rows (the promotion gate's baseline, kept as
tables in the run's `review/woe_scorecard.json`). Each scores the same matured loans point in
time; the AUC difference is tested with the paired DeLong variance (two-sided).
"""

from __future__ import annotations

import logging
import math
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from scipy import stats

from catalog.errors import PrecreditError
from serving.decision.model_store import PLATFORM
from serving.monitor import references
from serving.validation.result import VersionComparison
from training import tracking, validation
from training.pipeline import SCORECARD
from training.table_model import WoeScorecard

log = logging.getLogger(__name__)


def others(
    client: MlflowClient, tenant_id: str, validated: tuple[str, str]
) -> list[tuple[str, str, str]]:
    """(name, version, role) of every other version serving or challenging for the tenant."""
    found: dict[tuple[str, str], str] = {}
    for owner in dict.fromkeys((tenant_id, PLATFORM)):
        for alias in (tracking.CHAMPION, tracking.CHALLENGER):
            version = tracking.version_by_alias(client, owner, alias)
            key = (tracking.model_name(owner), str(version.version)) if version else None
            if key is not None and key != validated and key not in found:
                found[key] = f"{owner} {alias}"
    return [(*key, role) for key, role in found.items()]


def comparisons(
    client: MlflowClient, tenant_id: str, monitored: references.Monitored, loans: pd.DataFrame
) -> list[VersionComparison]:
    """The validated version's AUC against each other version's on the same loans."""
    labels = loans["label"].to_numpy() if len(loans) else np.array([])
    if not 0 < int(labels.sum()) < len(labels):
        return []
    out = []
    for name, version, role in others(client, tenant_id, (monitored.name, monitored.version)):
        try:
            other = references.load(client, name, version).model
        except (MlflowException, PrecreditError) as error:
            log.warning("%s v%s left out of the comparison: %s", name, version, error)
            continue
        out.append(
            _compared(
                labels, loans["pd"].to_numpy(), other.predict_proba(loans), (name, version, role)
            )
        )
    return out


def _compared(
    labels: np.ndarray, pds: np.ndarray, other: np.ndarray, who: tuple[str, str, str]
) -> VersionComparison:
    this_auc, other_auc, variance = validation.delong_paired(labels, pds, other)
    z = (this_auc - other_auc) / math.sqrt(variance) if variance > 0 else 0.0
    return VersionComparison(
        name=who[0], version=who[1], role=who[2], loans=len(labels), auc=this_auc,
        other_auc=other_auc, difference=this_auc - other_auc, z=z,
        p_value=float(2 * stats.norm.sf(abs(z))),
    )  # fmt: skip


SCORECARD_ROLE = "WoE scorecard fitted on this version's training rows (the gate's baseline)"


def scorecard(
    client: MlflowClient, monitored: references.Monitored, loans: pd.DataFrame
) -> VersionComparison | None:
    """The validated version against the WoE scorecard its training fitted, on the same loans.

    None when the run kept no scorecard (trained before `review/woe_scorecard.json` was kept)
    or the loans hold only one class.
    """
    labels = loans["label"].to_numpy() if len(loans) else np.array([])
    if not 0 < int(labels.sum()) < len(labels):
        return None
    with tempfile.TemporaryDirectory() as tmp:
        tables = references.review_file(client, monitored.run_id, SCORECARD, Path(tmp))
    if tables is None:
        return None
    card = WoeScorecard.from_dict(tables)
    who = ("WoE scorecard", monitored.version, SCORECARD_ROLE)
    return _compared(labels, loans["pd"].to_numpy(), card.log_odds(loans), who)
