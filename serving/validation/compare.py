"""Back-testing on the same window: the validated version against the other served versions.

The other versions are the tenant's champion and challenger and the platform's champion
(whichever exist and differ from the validated one). Each scores the same matured loans point
in time; the AUC difference is tested with the paired DeLong variance (two-sided).
"""

from __future__ import annotations

import logging
import math

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
