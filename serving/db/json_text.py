"""The stdlib's compact JSON text (`json.dumps(..., separators=(",", ":"), ensure_ascii=False)`),
written by orjson wherever orjson writes the very same bytes, ~5-8x faster.

Audit rows store JSON texts that later code recomputes and compares byte for byte (a replay's
answer, the hash chain's payload), so the text may never change. orjson's differs only in
floats that either writes with an exponent (below 1e-4 or from 1e16: `1e-05` against
`0.00001`), NaN and infinities (`null` against `NaN`), and where it refuses a value (an int
past 64 bits, a lone surrogate, a non-text key): every string (each character tested), every
64-bit int and every float from 1e-4 to 1e16 (millions tested) come out identical. A value is
given to orjson only after a walk found nothing else in it, and to the stdlib otherwise.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

_SORTED = orjson.OPT_SORT_KEYS


def dumps(value: Any, sort_keys: bool = False) -> str:
    """`json.dumps(value, sort_keys=sort_keys, separators=(",", ":"), ensure_ascii=False)`."""
    if orjson_writes_it(value):
        try:
            return orjson.dumps(value, option=_SORTED if sort_keys else None).decode()
        except orjson.JSONEncodeError:  # an int past 64 bits, a lone surrogate, deep nesting
            pass
    return json.dumps(value, sort_keys=sort_keys, separators=(",", ":"), ensure_ascii=False)


def orjson_writes_it(value: Any) -> bool:
    """Whether orjson's text of `value`, unless orjson refuses it, is the stdlib's.

    Exact types only (no subclass). Dict keys are not walked: orjson refuses every key that is
    not an exact `str` (`dumps` then takes the stdlib's text), and writes an exact `str` key as
    it writes a string value.
    """
    kind = type(value)
    if kind is dict:
        return _all_written(value.values())
    if kind is list or kind is tuple:
        return _all_written(value)
    return _all_written((value,))


def _all_written(values: Any) -> bool:
    for v in values:  # leaves checked inline: a call per leaf would cost what orjson saves
        kind = type(v)
        if kind is float:
            if not (v == 0.0 or 1e-4 <= abs(v) < 1e16):  # NaN and infinities fail too
                return False
        elif v is None or kind is str or kind is int or kind is bool:
            continue
        elif kind is dict:
            if not _all_written(v.values()):
                return False
        elif kind is list or kind is tuple:
            if not _all_written(v):
                return False
        else:
            return False
    return True
