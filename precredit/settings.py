"""Runtime configuration: the one `Settings` class lives in `serving.config`."""

from __future__ import annotations

from serving.config import Settings, get_settings

__all__ = ["Settings", "get_settings"]
