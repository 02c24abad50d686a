"""The promotion rule has one home: nothing but `training.promotion` moves `@champion`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from catalog.errors import InvalidInput
from training.promotion import MIN_OVERRIDE_REASON, Override

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("catalog", "features", "models", "training", "serving", "precredit", "simulation")
MOVES_CHAMPION = re.compile(r"set_champion\(|set_registered_model_alias\(")


def _sources() -> dict[str, str]:
    """Every project module's text, and each notebook's code cells."""
    texts = {
        str(path.relative_to(ROOT)): path.read_text(encoding="utf-8")
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
    }
    for path in (ROOT / "notebooks").glob("*.ipynb"):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        texts[path.name] = "".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    return texts


def test_only_the_promotion_module_moves_the_champion_alias() -> None:
    sources = _sources()
    movers = {name for name, text in sources.items() if MOVES_CHAMPION.search(text)}
    assert movers == {"training/tracking.py", "training/promotion.py"}
    assert "tracking.set_champion(" in sources["training/promotion.py"]
    assert "tracking.set_champion(" not in sources["training/tracking.py"]
    assert "promotion.promote(" in sources["02_retrain_and_promote.ipynb"]
    assert "promote(client, tenant, version, Approval(" in sources["training/pipeline.py"]
    assert "promotion.promote(" in sources["serving/retraining.py"]


def test_an_override_needs_a_written_reason() -> None:
    with pytest.raises(InvalidInput):
        Override("ok")
    with pytest.raises(InvalidInput):
        Override(" " * (MIN_OVERRIDE_REASON + 5))
    assert Override("x" * MIN_OVERRIDE_REASON).reason
