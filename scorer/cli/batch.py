"""``lume-score batch``: being built (issue 15)."""

from __future__ import annotations

from scorer.cli.console import one_line_errors
from scorer.errors import LumeError


@one_line_errors
def batch_command() -> None:
    """Not built yet."""
    raise LumeError("lume-score batch is not built yet")
