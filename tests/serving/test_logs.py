"""Logs escape control characters and never carry the parameters of a failed statement."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from serving import logs
from serving.db import make_engine, sqlite_url


def test_log_lines_escape_control_characters(caplog: pytest.LogCaptureFixture) -> None:
    logs.install()
    with caplog.at_level(logging.WARNING, logger="precredit.test"):
        logging.getLogger("precredit.test").warning(
            "path %s", "/v1/decisions/\x00\r\nFORGED 200 OK\x1b[31m"
        )
    [record] = caplog.records
    message = record.getMessage()
    assert message == "path /v1/decisions/\\x00\\x0d\\x0aFORGED 200 OK\\x1b[31m"
    assert "\n" not in caplog.text.strip()


def test_failed_statements_hide_their_parameters(tmp_path: Path) -> None:
    engine = make_engine(sqlite_url(tmp_path / "service.db"))
    try:
        with engine.connect() as connection, pytest.raises(OperationalError) as failed:
            connection.execute(text("SELECT :secret FROM no_such_table"), {"secret": "SECRETVALUE"})
    finally:
        engine.dispose()
    assert "SECRETVALUE" not in str(failed.value)
    assert "hidden" in str(failed.value)
