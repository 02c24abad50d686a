"""Log lines carry no raw control characters: a client's NUL or CR LF cannot forge a line.

`install()` (called by the API factory) makes every log record escape control characters in
its message, whichever logger or handler formats it; tracebacks are formatted apart, unchanged.
"""

from __future__ import annotations

import logging

_CONTROL = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F, *range(0x80, 0xA0))}


def escape(text: str) -> str:
    """`text` with every control character written as `\\xNN`."""
    return text.translate(_CONTROL)


class EscapedRecord(logging.LogRecord):
    """A log record whose message has its control characters escaped."""

    def getMessage(self) -> str:  # noqa: N802 - the logging API's name
        """The formatted message, escaped."""
        return escape(super().getMessage())


def install() -> None:
    """Make every new log record an `EscapedRecord` (idempotent)."""
    logging.setLogRecordFactory(EscapedRecord)
