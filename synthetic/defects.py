"""Data defects at realistic rates, each recorded in `truth_defects` for the quality report's tests."""

from __future__ import annotations

import numpy as np

from catalog import uscc
from synthetic.finance import Frame

Ledger = list[tuple[str, str, str]]  # (table_name, defect, ref)


def _count(rng: np.random.Generator, n: int, rate: float) -> int:
    return max(1, int(rng.binomial(n, rate))) if n else 0


def corrupt_codes(
    rng: np.random.Generator, codes: np.ndarray, rates: dict[str, float], ledger: Ledger
) -> np.ndarray:
    """Pilot-region codes that fail their check character, and codes shared by two entities."""
    codes = codes.copy()
    bad = rng.choice(
        len(codes), size=_count(rng, len(codes), rates["bad_check_char"]), replace=False
    )
    for i in bad:
        wrong = [c for c in uscc.CHARSET if c != codes[i][17]]
        codes[i] = codes[i][:17] + wrong[rng.integers(len(wrong))]
        ledger.append(("entities", "bad_check_char", codes[i]))
    pairs = _count(rng, len(codes), rates["duplicate_code"])
    picks = rng.choice(np.setdiff1d(np.arange(len(codes)), bad), size=2 * pairs, replace=False)
    for keep, dup in picks.reshape(-1, 2):
        codes[dup] = codes[keep]
        ledger.append(("entities", "duplicate_code", codes[keep]))
    return codes


def orphan_codes(rng: np.random.Generator, count: int) -> list[str]:
    """Valid codes of entities registered elsewhere (Shenzhen), absent from `entities`."""
    alphabet = uscc.CHARSET
    bodies = ("MA" + "".join(alphabet[j] for j in rng.integers(0, 31, 6)) for _ in range(count))
    return [uscc.build("9", "1", "440300", body) for body in bodies]


def drop_rows(rng: np.random.Generator, frame: Frame, rate: float) -> Frame:
    """Missing months: the platform never received some monthly rows."""
    keep = rng.random(len(frame["eidx"])) >= rate
    return {k: v[keep] for k, v in frame.items()}


def add_versions(
    rng: np.random.Generator, frame: Frame, rates: dict[str, float], amount_col: str
) -> tuple[Frame, np.ndarray, np.ndarray]:
    """Corrected (new amount) and retracted second versions of some records, ingested later.

    Only for tables whose records have a single natural version (penalties, tax payments).
    """
    first = np.nonzero(frame["version"] == 1)[0]
    u = rng.random(len(first))
    corrected = first[u < rates["corrected_record"]]
    retracted = first[
        (u >= rates["corrected_record"])
        & (u < rates["corrected_record"] + rates["retracted_record"])
    ]
    picks = np.concatenate([corrected, retracted])
    extra = {k: v[picks].copy() for k, v in frame.items()}
    extra["version"] = extra["version"] + 1
    extra[amount_col] = (extra[amount_col] * rng.uniform(0.5, 1.5, len(picks))).round(2)
    extra["retracted"] = np.arange(len(picks)) >= len(corrected)
    extra["ingest_date"] = extra["ingest_date"] + rng.integers(2, 60, len(picks))
    merged = {k: np.concatenate([frame[k], extra[k]]) for k in frame}
    return merged, frame["seq"][corrected], frame["seq"][retracted]


def orphan_rows(
    rng: np.random.Generator, frame: Frame, rate: float, orphan_eidx: np.ndarray
) -> Frame:
    """Point a few records at entities registered elsewhere."""
    n = len(frame["eidx"])
    hit = rng.random(n) < rate
    frame = dict(frame)
    frame["eidx"] = np.where(hit, rng.choice(orphan_eidx, size=n), frame["eidx"])
    return frame
