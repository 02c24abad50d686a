"""Map precredit's error tree to one readable line and a non-zero exit code."""

from __future__ import annotations

import sys

import typer

from catalog.errors import PrecreditError

EXIT_INVALID = 2
EXIT_UNAVAILABLE = 3
EXIT_INTERNAL = 1


def exit_code(error: PrecreditError) -> int:
    """The process exit code for one of our errors."""
    if error.http_status == 503:
        return EXIT_UNAVAILABLE
    return EXIT_INVALID if 400 <= error.http_status < 500 else EXIT_INTERNAL


def run_guarded(app: typer.Typer) -> None:
    """Run `app`; our own errors end the process with one line on stderr."""
    try:
        app(standalone_mode=True)
    except PrecreditError as error:
        print(f"precredit: error [{error.code}]: {error.message}", file=sys.stderr)
        sys.exit(exit_code(error))
