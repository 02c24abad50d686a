"""docs/features.md is the registry's: regenerate it with `precredit features docs`."""

from __future__ import annotations

from pathlib import Path

from features import docs
from features.definitions import REGISTRY

FEATURES_MD = Path(__file__).resolve().parents[2] / "docs" / "features.md"


def test_features_md_matches_the_registry() -> None:
    shipped = FEATURES_MD.read_text(encoding="utf-8")
    assert shipped == docs.render(), (
        "docs/features.md is out of date: run `precredit features docs --out docs/features.md`"
    )


def test_every_registered_feature_is_documented() -> None:
    shipped = FEATURES_MD.read_text(encoding="utf-8")
    missing = [f.name for f in REGISTRY.features if f"`{f.name}`" not in shipped]
    assert missing == []
