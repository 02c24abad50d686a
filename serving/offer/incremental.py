"""Incremental offers runs: score only the entities whose inputs, model or policy changed.

The state (`serving.db.offer_state`) of a tenant's last complete run says which model version
and policy fingerprint scored it and, per entity, the digest of the inputs it was scored on
(`models.decision.inputs_digests`: code, product and the model's inputs, not the snapshot
date) and whether the decision made an offer. A snapshot row is carried over, unscored, when
all of these hold:

- the model version and policy fingerprint are the run's (another model or policy: all rows
  are scored);
- its digest equals the recorded one;
- it has an active offer of the run's product exactly when the recorded decision made one (an
  offer that expired, or was revoked since, is offered afresh as a full run would).

A full run would decide such a row exactly as before, and a decision with the same terms
leaves the active offer untouched; so carrying it over leaves the same offers (same ids) and
exports as a full run.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from models.batch import PreapprovalBatch, preapprove_batch
from models.decision import inputs_digests
from models.preapproval import PreapprovalModel
from serving.db.offer_state import Entry


@dataclass(frozen=True)
class Carried:
    """Rows a run does not score: their codes, and how many keep an active offer."""

    codes: list[str]
    offers: int
    entries: dict[str, Entry]  # their state, as recorded


@dataclass(frozen=True)
class LastRun:
    """What the last runs of this model and policy scored, and the active offers now."""

    product: str
    scored: dict[str, Entry]  # by code
    offered: frozenset[str]  # codes with an active offer of `product`

    def unchanged(self, model: PreapprovalModel, frame: pd.DataFrame) -> NDArray[np.bool_]:
        """Per row of `frame`, whether it can be carried over unscored."""
        codes = frame["uscc"].astype(str).tolist()
        digests = inputs_digests(codes, self.product, model.classifier_.matrix(frame))
        keep = [self._same(code, digest) for code, digest in zip(codes, digests, strict=True)]
        return np.asarray(keep, dtype=bool)

    def split(self, model: PreapprovalModel, frame: pd.DataFrame) -> tuple[pd.DataFrame, Carried]:
        """The rows to score, and those carried over."""
        keep = self.unchanged(model, frame)
        codes = frame["uscc"].astype(str).to_numpy()[keep].tolist()
        offers = sum(code in self.offered for code in codes)
        return frame[~keep], Carried(codes, offers, {c: self.scored[c] for c in codes})

    def _same(self, code: str, digest: bytes) -> bool:
        last = self.scored.get(code)
        return last is not None and last == (digest, code in self.offered)


@dataclass(frozen=True)
class Step:
    """One batch of snapshot rows as a run applies it: all its codes, the scored, the carried."""

    codes: list[str]  # every code of the batch, in consent or not
    batch: PreapprovalBatch | None  # the rows scored (None: none)
    carried: Carried


def in_consent(frame: pd.DataFrame, consented: Collection[str] | None) -> pd.DataFrame:
    """The rows a valid consent covering the model's data scope allows scoring (None: all)."""
    if consented is None:
        return frame
    return frame[frame["uscc"].astype(str).isin(consented)]


def score_frame(
    model: PreapprovalModel,
    whole: pd.DataFrame,
    consented: Collection[str] | None,
    last: LastRun | None,
) -> Step:
    """Decide the rows of one snapshot batch that consent allows and that changed."""
    frame, carried = in_consent(whole, consented), Carried([], 0, {})
    if last is not None and last.scored and len(frame):  # no state: nothing to carry over
        frame, carried = last.split(model, frame)
    batch = preapprove_batch(model, frame) if len(frame) else None
    return Step(whole["uscc"].astype(str).tolist(), batch, carried)
