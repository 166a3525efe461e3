"""Exceptions as one bounded line, for the runner's records and the batch driver.

Kept for the sandbox's imports: the function lives in :mod:`scorer.safe_text`, with the
escaping of every string shown to the organizer (:func:`scorer.safe_text.terminal`).
"""

from __future__ import annotations

from scorer.safe_text import ONE_LINE_CHARS, one_line

__all__ = ["ONE_LINE_CHARS", "one_line"]
