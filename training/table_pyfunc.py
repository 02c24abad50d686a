"""A bank's table model as an MLflow pyfunc, logged as "model from code" (no pickle).

`mlflow.pyfunc.load_model(uri).predict(rows)` takes rows of the bank's table (the training
table's columns; others are ignored) and returns one PD per row, computed by
`training.table_model.TableModel` from the files under the artifact `table_model`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow
import pandas as pd

from training.table_model import TableModel

ARTIFACT_KEY = "table_model"


class TablePyfunc(mlflow.pyfunc.PythonModel):  # type: ignore[misc,name-defined]
    """Raw table rows in, PD per row out (the LightGBM, scorecard or blend that was selected)."""

    def load_context(self, context: Any) -> None:
        """Load and verify the model's files."""
        self.model = TableModel.load(Path(context.artifacts[ARTIFACT_KEY]))

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        """PD per row."""
        return pd.DataFrame({"pd": self.model.score_table(model_input)})


mlflow.models.set_model(TablePyfunc())
