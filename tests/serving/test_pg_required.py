"""Under CI the PostgreSQL tests fail when the server does not answer; elsewhere they skip."""

from __future__ import annotations

import pytest
from api_fixtures import pg_missing


def test_a_missing_server_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI is set"):
        pg_missing("127.0.0.1:5432", "connection refused")


def test_a_missing_server_skips_with_its_reason_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="connection refused"):
        pg_missing("127.0.0.1:5432", "connection refused")
