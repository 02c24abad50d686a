"""Point-in-time feature rows kept in the process across retrainings.

A row's features as of a date read only records whose event and ingest dates are on or before
that date, in their version at that date (`features.compute`): once computed, they never
change. Retraining recomputes the same rows every time (every matured loan, every lawful
decline, as of its application or decision date), which was a tenth of a lending simulation's
time. `features` keeps each (credit code, as_of) row per store file and feature-registry
fingerprint and computes only the rows it has not seen; its answer equals `compute` row for row.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

import pandas as pd

from catalog import store
from features.compute import compute
from features.definitions import REGISTRY
from features.registry import Registry

KEY = ["uscc", "as_of"]
MAX_STORES = 4  # stores (or registries) whose rows are kept; the least recently used goes
MAX_ROWS = 200_000  # rows kept per store (~200 MB at 120 features); past it, the newest

_ROWS: OrderedDict[tuple[str, str], pd.DataFrame] = OrderedDict()
_LOCK = threading.Lock()


def _pairs_index(pairs: pd.DataFrame) -> pd.MultiIndex:
    """(uscc, as_of) of each row, typed as `compute` returns them."""
    as_of = pd.to_datetime(pairs["as_of"]).astype("datetime64[us]")
    return pd.MultiIndex.from_arrays([pairs["uscc"].astype(str), as_of], names=KEY)


def _known(key: tuple[str, str]) -> pd.DataFrame | None:
    with _LOCK:
        if key in _ROWS:
            _ROWS.move_to_end(key)
        return _ROWS.get(key)


def _keep(key: tuple[str, str], rows: pd.DataFrame) -> None:
    with _LOCK:
        _ROWS[key] = rows if len(rows) <= MAX_ROWS else rows.iloc[-MAX_ROWS:]
        _ROWS.move_to_end(key)
        while len(_ROWS) > MAX_STORES:
            _ROWS.popitem(last=False)


def features(
    con: store.Connection, pairs: pd.DataFrame, store_path: Path, registry: Registry = REGISTRY
) -> pd.DataFrame:
    """`compute(con, pairs)` for the store at `store_path`, computing only rows not seen before."""
    key = (str(Path(store_path).resolve()), registry.fingerprint())
    wanted = _pairs_index(pairs)
    known = _known(key)
    unique = wanted.unique()
    missing = unique if known is None else unique[~unique.isin(known.index)]
    if len(missing):
        fresh = compute(con, missing.to_frame(index=False), registry).set_index(KEY)
        known = fresh if known is None else pd.concat([known, fresh])
        _keep(key, known)
    assert known is not None  # either found or just computed
    rows = known.reindex(wanted) if len(wanted) else known.iloc[:0]
    out = rows.reset_index()
    return out


def clear() -> None:
    """Forget every kept row (tests; a store rewritten in place)."""
    with _LOCK:
        _ROWS.clear()
