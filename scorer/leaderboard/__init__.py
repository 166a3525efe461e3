"""The leaderboard: load results, rank them as the official challenge did, render them.

:func:`load_results` reads ``scores.json`` / ``run.json`` (:mod:`.load`, I/O),
:func:`rank` orders them and adds the paired-bootstrap intervals and probabilities
(:mod:`.ranking`, pure), :func:`render` writes Markdown, CSV, HTML or JSON
(:mod:`.render`, :mod:`.page`). The rich terminal table lives in ``scorer/cli/tables.py``.
"""

from __future__ import annotations

from collections.abc import Sequence

from scorer.leaderboard.load import (
    NOT_EVALUATED,
    RUN_STATUSES,
    SCORED_STATUSES,
    Entry,
    check_scores,
    load_result,
    load_results,
)
from scorer.leaderboard.page import to_html
from scorer.leaderboard.ranking import (
    BELOW_THRESHOLD,
    GROUP_ORDER,
    INCOMPLETE,
    RANKED,
    UNSCORED,
    Standing,
    final_interval,
    order_probability,
    rank,
)
from scorer.leaderboard.render import (
    COLUMNS,
    FORMATS,
    GROUP_TITLES,
    display_row,
    format_duration,
    groups,
    notes,
    to_csv,
    to_json,
    to_markdown,
    to_records,
)

__all__ = [
    "BELOW_THRESHOLD",
    "COLUMNS",
    "FORMATS",
    "GROUP_ORDER",
    "GROUP_TITLES",
    "INCOMPLETE",
    "NOT_EVALUATED",
    "RANKED",
    "RUN_STATUSES",
    "SCORED_STATUSES",
    "UNSCORED",
    "Entry",
    "Standing",
    "check_scores",
    "display_row",
    "final_interval",
    "format_duration",
    "groups",
    "load_result",
    "load_results",
    "notes",
    "order_probability",
    "rank",
    "render",
    "to_csv",
    "to_html",
    "to_json",
    "to_markdown",
    "to_records",
]


def render(standings: Sequence[Standing], fmt: str, title: str = "Leaderboard") -> str:
    """The leaderboard as text in ``fmt``: ``md``, ``csv``, ``html`` or ``json``.

    Deterministic: the same standings give the same string (:func:`rank` orders them the
    same whatever the order of the results).
    """
    if fmt == "md":
        return to_markdown(standings, title)
    if fmt == "csv":
        return to_csv(standings)
    if fmt == "html":
        return to_html(standings, title)
    if fmt == "json":
        return to_json(standings, title)
    raise ValueError(f"unknown leaderboard format {fmt!r}; expected one of {', '.join(FORMATS)}")
