"""`serving.db.json_text.dumps` is the stdlib's text for every value, orjson or not.

Stored audit texts are recomputed and compared byte for byte (replays, the hash chain), so a
single differing byte would break them: every kind of value where orjson writes otherwise
(exponent floats, NaN, big ints, surrogates, subclasses, non-text keys) must come out as
`json.dumps` writes it, and so must the values orjson is trusted with.
"""

from __future__ import annotations

import enum
import json
import math
import random
import struct
from typing import Any

import orjson
import pytest

from serving.db import json_text
from serving.decision.scoring import canonical_json


def _stdlib(value: Any, sort_keys: bool) -> str:
    return json.dumps(value, sort_keys=sort_keys, separators=(",", ":"), ensure_ascii=False)


class Grade(enum.StrEnum):
    A = "A"


EDGES: list[Any] = [
    0.0,
    -0.0,
    1e-4,
    9.999999999999999e-05,
    1e-05,
    1e-07,
    1e16,
    9999999999999998.0,
    1.5e300,
    5e-324,
    0.1 + 0.2,
    math.nan,
    math.inf,
    -math.inf,
    2**63 - 1,
    2**64,
    -(2**70),
    True,
    None,
    'quote " backslash \\ nul \x00 unit \x1f del \x7f sep \u2028 \u4e2d\u6587 \U0001f600',
    "\ud800",  # a lone surrogate: orjson refuses it
    Grade.A,  # a str subclass
]


@pytest.mark.parametrize("sort_keys", [True, False])
@pytest.mark.parametrize("value", EDGES, ids=repr)
def test_every_edge_value_is_the_stdlibs_text(value: Any, sort_keys: bool) -> None:
    for shaped in (value, [value], {"k": value, "a": [1, {"z": value}]}, (value, "x")):
        assert json_text.dumps(shaped, sort_keys=sort_keys) == _stdlib(shaped, sort_keys)


def test_non_text_keys_and_unsorted_dicts_are_the_stdlibs() -> None:
    value = {"b": 1, "a": {10: "ten", 2: None, 3: [0.5, 1e-9]}}  # sorted as numbers
    for sort_keys in (True, False):
        assert json_text.dumps(value, sort_keys=sort_keys) == _stdlib(value, sort_keys)


def test_random_floats_over_every_magnitude_are_the_stdlibs() -> None:
    rng = random.Random(15)
    values = []
    for _ in range(20_000):
        bits = struct.unpack("d", struct.pack("Q", rng.getrandbits(64)))[0]
        values += [bits, 10 ** rng.uniform(-6, 18), -(10 ** rng.uniform(-6, 18))]
    assert json_text.dumps(values) == _stdlib(values, False)
    features = {f"f_{i}": v for i, v in enumerate(values[:300])}
    assert canonical_json(features) == _stdlib(features, True)


def test_orjson_writes_only_what_it_writes_identically() -> None:
    assert json_text.orjson_writes_it({"pd": 0.0123, "reasons": [{"text": "中"}], "n": None})
    for refused in (1e-5, 1e16, math.nan, Grade.A, [{"deep": [2.5e-7]}], {"k": [{"d": 1e20}]}):
        assert not json_text.orjson_writes_it(refused)
    for key in (1, 2.5, None, True, Grade.A):  # keys are not walked: orjson refuses these itself
        with pytest.raises(orjson.JSONEncodeError):
            orjson.dumps({key: "x"})
