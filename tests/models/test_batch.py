"""`preapprove_batch` against the single answer, and the one input hash, on the session's model.

The batch path skips TreeSHAP for rows it can decline without it; every row it answers must
equal `PreapprovalModel.preapprovals` for that row alone, bit for bit.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import numpy as np
import pandas as pd
import pytest

from models.batch import preapprove_batch
from models.decision import input_hash
from training.train import TrainResult


@pytest.fixture(scope="module")
def rows(trained_platform: TrainResult) -> pd.DataFrame:
    """Out-of-time test rows, one per entity (the newest), as a snapshot holds them."""
    test = trained_platform.splits["test"].sort_values(["uscc", "as_of"])
    return test.drop_duplicates("uscc", keep="last").reset_index(drop=True)


def test_the_batch_answers_every_row_as_the_single_path_does(
    trained_platform: TrainResult, rows: pd.DataFrame
) -> None:
    model = trained_platform.model
    singles = [model.preapprovals(rows.iloc[[i]])[0] for i in range(len(rows))]
    batch = preapprove_batch(model, rows)
    shortcut = [s.binding for s, done in zip(singles, batch.explained, strict=True) if not done]
    assert shortcut  # some rows were declined without TreeSHAP...
    assert {b.split(":")[0] for b in shortcut} <= {"gate", "pd", "min_limit"}  # gate, PD, limit
    assert list(batch.decision) == [s.decision for s in singles]
    assert list(batch.binding) == [s.binding for s in singles]
    batch.explain(range(len(rows)))
    for i, single in enumerate(singles):
        assert (batch.decision[i], batch.limit_cny[i], batch.pd[i], batch.grade[i]) == (
            single.decision,
            single.limit_cny,
            single.pd,
            single.grade_label,
        ), i
        assert batch.reasons(i) == single.reasons, i


def test_a_batch_of_one_row_equals_that_row_inside_the_whole_batch(
    trained_platform: TrainResult, rows: pd.DataFrame
) -> None:
    model = trained_platform.model
    whole = preapprove_batch(model, rows)
    for i in range(0, len(rows), max(1, len(rows) // 7)):
        alone = preapprove_batch(model, rows.iloc[[i]])
        assert alone.reasons(0) == whole.reasons(i)
        assert alone.input_hash(0) == whole.input_hash(i)
        assert (alone.decision[0], alone.limit_cny[0], alone.binding[0]) == (
            whole.decision[i],
            whole.limit_cny[i],
            whole.binding[i],
        )


def test_input_hash_changes_exactly_when_an_input_does() -> None:
    day = dt.date(2025, 12, 31)
    values = np.array([1.0, np.nan, 0.0, 250_000.0])
    same = np.array([1.0, float("nan") * -1.0, -0.0, 250_000.0])  # other NaN bits, -0.0
    base = input_hash("91350100M000100Y43", "working_capital", day, values)
    assert base == input_hash("91350100M000100Y43", "working_capital", "2025-12-31", same)
    assert (
        len(
            {
                base,
                input_hash(
                    "91350100M000100Y43",
                    "working_capital",
                    day,
                    values + np.array([0.0, 0.0, 0.0, 1.0]),
                ),
                input_hash("91350100M000100Y43", "working_capital", dt.date(2026, 1, 1), values),
                input_hash("91350100M000100Y43", "invoice", day, values),
                input_hash("91350100M000100Y51", "working_capital", day, values),
            }
        )
        == 5
    )


def test_the_batch_builds_every_rows_reasons_and_hash_as_the_single_path_does(
    trained_platform: TrainResult, rows: pd.DataFrame
) -> None:
    model = trained_platform.model
    batch = preapprove_batch(model, rows)
    batch.matrix[0, : min(3, batch.matrix.shape[1])] = [-0.0, np.nan, 0.0]  # shown "-0", missing
    every = list(range(len(rows)))
    records = batch.reason_records(every)  # explains the rows TreeSHAP skipped first
    assert all(batch.explained)
    for i in every:  # plain dicts, exactly the typed reasons' dumps
        assert records[i] == [r.model_dump() for r in batch.reasons(i)], i
    hashes = batch.input_hashes(every)
    assert hashes == [batch.input_hash(i) for i in every]
    head = f"{batch.uscc[0]}\x1f{batch.product}\x1f{batch.as_of[0].isoformat()}\x1f".encode()
    values = np.where(np.isnan(batch.matrix[0]), np.nan, batch.matrix[0] + 0.0).astype("<f8")
    assert hashes[0] == hashlib.sha256(head + values.tobytes()).hexdigest()  # as documented
    assert len(set(hashes)) == len(rows)
