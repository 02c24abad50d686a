"""Runtime configuration, read from `PRECREDIT_*` environment variables at the edges only."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Where precredit keeps its state and how it reaches its parts."""

    model_config = SettingsConfigDict(env_prefix="PRECREDIT_", extra="ignore")

    home: Path = Path(".precredit")
    store_path: Path | None = None

    tracking_uri: str | None = None

    @property
    def store(self) -> Path:
        """The platform store (DuckDB file)."""
        return self.store_path or self.home / "platform.duckdb"

    @property
    def mlflow_uri(self) -> str:
        """MLflow tracking and registry URI (SQLite under home unless set)."""
        return self.tracking_uri or f"sqlite:///{(self.home / 'mlflow.db').resolve()}"

    @property
    def artifact_root(self) -> Path:
        """Where MLflow stores run artifacts for the local tracking store."""
        return self.home / "mlartifacts"


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
