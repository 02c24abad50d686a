"""The registered table model: the selected LightGBM, scorecard or blend, as files, same PD.

A model is selected on a generated table (numbers with gaps, a category), then forced to each
candidate (w = 0, 0.5, 1) with the same fitted parts; its files are saved, reloaded and scored
from raw rows, and must give the selected model's PD on every row.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from catalog.errors import InvalidInput, ModelUnavailable
from training import tuning
from training.baselines import fit_scorecard
from training.selection import SelectedModel, select
from training.table import Roles, prepare
from training.table_model import TableModel, encode_rows
from training.table_registry import export, registered_name
from training.tuning import Budget, Labelled

N = 600


def raw_table(seed: int = 11) -> pd.DataFrame:
    """Numbers with gaps, a sector with a rare value, a good/bad target."""
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=N), rng.normal(size=N)
    sector = rng.choice(["agri", "retail", "tech", "mining"], N, p=[0.4, 0.3, 0.28, 0.02])
    logit = x1 - 0.7 * x2 + np.where(sector == "agri", 0.8, 0.0) - 1.2
    frame = pd.DataFrame({"x1": x1.round(4), "x2": x2.round(4), "sector": sector})
    frame.loc[rng.random(N) < 0.1, "x1"] = np.nan
    frame["status"] = np.where(rng.random(N) < 1 / (1 + np.exp(-logit)), "bad", "good")
    return frame


@pytest.fixture(scope="module")
def fitted() -> tuple[pd.DataFrame, SelectedModel]:
    """A blend with both parts fitted on the whole prepared table (w = 0.5)."""
    frame = raw_table()
    prepared = prepare(frame, Roles("status", "bad"))
    data = Labelled(prepared.X, prepared.y, prepared.spec)
    model = select(data, None, Budget(trials=3, seconds=30.0), seed=5)
    rounds = max(model.tuned.rounds, 5)
    model.booster = tuning.fit_booster(
        prepared.X, prepared.y, model.spec, model.tuned.params, rounds
    )
    model.scorecard = fit_scorecard(prepared.X, prepared.y, model.spec.categorical, seed=5)
    return frame, model


@pytest.mark.parametrize("weight", [0.0, 0.5, 1.0], ids=["scorecard", "blend", "lightgbm"])
def test_saved_files_score_raw_rows_with_the_selected_pd(
    fitted: tuple[pd.DataFrame, SelectedModel], weight: float, tmp_path: Path
) -> None:
    frame, fitted_model = fitted
    model = replace(fitted_model, weight=weight)
    if weight == 0.0:
        model.booster = None
    if weight == 1.0:
        model.scorecard = None
    expected = model.predict_proba(encode_rows(frame, model.spec))
    export(model, model.scorecard, {"seed": 5}).save(tmp_path)
    loaded = TableModel.load(tmp_path)
    np.testing.assert_array_equal(loaded.score_table(frame), expected)
    assert (loaded.booster is None, loaded.scorecard is None) == (weight == 0.0, weight == 1.0)


def test_the_woe_tables_equal_optbinnings_transform_on_every_row(
    fitted: tuple[pd.DataFrame, SelectedModel],
) -> None:
    """Including gaps, a rare category and values exactly on the bin edges."""
    frame, model = fitted
    assert model.scorecard is not None
    X = encode_rows(frame, model.spec)
    edges = model.scorecard.binning.get_binned_variable("x2").splits
    X = pd.concat([X, X.head(len(edges)).assign(x2=edges)], ignore_index=True)
    tables = export(model, model.scorecard, {}).scorecard
    assert tables is not None
    np.testing.assert_allclose(tables.log_odds(X), model.scorecard.log_odds(X), rtol=0, atol=1e-12)


def test_an_unknown_category_scores_like_a_missing_one(
    fitted: tuple[pd.DataFrame, SelectedModel], tmp_path: Path
) -> None:
    frame, model = fitted
    export(model, model.scorecard, {}).save(tmp_path)
    loaded = TableModel.load(tmp_path)
    rows = frame.head(3)
    unseen, missing = rows.assign(sector="fishing"), rows.assign(sector=None)
    np.testing.assert_array_equal(loaded.score_table(unseen), loaded.score_table(missing))


def test_rows_without_a_model_column_or_with_text_numbers_are_invalid(
    fitted: tuple[pd.DataFrame, SelectedModel],
) -> None:
    frame, model = fitted
    with pytest.raises(InvalidInput, match="lack the model's columns: x2"):
        encode_rows(frame.drop(columns="x2"), model.spec)
    with pytest.raises(InvalidInput, match="column 'x1' must be numeric"):
        encode_rows(frame.assign(x1="high"), model.spec)


def test_a_changed_file_is_refused(
    fitted: tuple[pd.DataFrame, SelectedModel], tmp_path: Path
) -> None:
    _, model = fitted
    export(model, model.scorecard, {}).save(tmp_path)
    calibrator = json.loads((tmp_path / "calibrator.json").read_text())
    calibrator["b"] = calibrator["b"] + 1.0
    (tmp_path / "calibrator.json").write_text(json.dumps(calibrator))
    with pytest.raises(ModelUnavailable, match=r"calibrator\.json does not match its SHA-256"):
        TableModel.load(tmp_path)


def test_the_fingerprint_changes_with_the_model_only(
    fitted: tuple[pd.DataFrame, SelectedModel],
) -> None:
    _, model = fitted
    one, two = (
        export(model, model.scorecard, {"seed": 5}),
        export(model, model.scorecard, {"seed": 5}),
    )
    assert one.fingerprint() == two.fingerprint()
    other = export(replace(model, weight=0.3), model.scorecard, {"seed": 5})
    assert other.fingerprint() != one.fingerprint()


@pytest.mark.parametrize(
    ("tenant", "file", "name"),
    [
        ("bank_a", "Loans 2024.csv", "precredit-bank_a-table-loans-2024"),
        ("bank_a", "../x/贷款.csv", None),
    ],
)
def test_registered_names_are_per_bank_and_table(tenant: str, file: str, name: str | None) -> None:
    found = registered_name(tenant, Path(file))
    if name is not None:
        assert found == name
    else:
        assert found.startswith("precredit-bank_a-table-t")
        assert found == registered_name(tenant, Path("贷款.csv"))
