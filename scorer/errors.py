"""One exception family: every error a user can act on is a ``LumeError``.

CLIs turn a ``LumeError`` into one line on stderr and exit code 2, so messages must
name the file, row and field at fault and say what was expected.
"""

from __future__ import annotations


class LumeError(Exception):
    """A problem with the user's input or environment (exit code 2, no traceback)."""


class DataError(LumeError):
    """A data file is missing, unreadable or malformed."""


class ModelError(LumeError):
    """A model directory cannot be loaded for scoring."""
