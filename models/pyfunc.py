"""The pre-approval model as an MLflow pyfunc, logged as "model from code" (no pickle).

`mlflow.pyfunc.log_model(python_model=<this file>, artifacts={"preapproval": DIR})`; the
artifacts directory is the one `PreapprovalModel.save` writes, verified by SHA-256 on load.
Serving does not go through pyfunc (it converts every input to pandas): it loads the same
artifacts natively; this wrapper is for batch scoring and for MLflow's own tools.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow
import pandas as pd

from models.preapproval import PreapprovalModel

ARTIFACT_KEY = "preapproval"
OUTPUT_COLUMNS = ("decision", "limit_cny", "pd", "grade", "binding")


class PreapprovalPyfunc(mlflow.pyfunc.PythonModel):  # type: ignore[misc,name-defined]
    """Feature rows in, one pre-approval (decision, limit, PD, grade, binding rule) per row out."""

    def load_context(self, context: Any) -> None:
        """Load and verify the native artifacts."""
        self.model = PreapprovalModel.load(Path(context.artifacts[ARTIFACT_KEY]))

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        """Pre-approvals for a batch of feature rows."""
        decisions = self.model.preapprove(model_input)
        return pd.DataFrame([{k: d[k] for k in OUTPUT_COLUMNS} for d in decisions])


mlflow.models.set_model(PreapprovalPyfunc())
