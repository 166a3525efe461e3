"""``lume-score report``: being built (issue 14)."""

from __future__ import annotations

from scorer.cli.console import one_line_errors
from scorer.errors import LumeError


@one_line_errors
def report_command() -> None:
    """Not built yet."""
    raise LumeError("lume-score report is not built yet")
