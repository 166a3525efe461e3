"""The leaderboard as one self-contained HTML page: no script, no network, every string escaped.

Names come from directories that entrants choose, and reasons quote their errors: the page
is the template ``leaderboard.html`` (:mod:`scorer.templates`: autoescaped, every value
through :func:`scorer.safe_text.html`), and its content security policy (``page.html``,
the shell of every page) forbids scripts and remote loads, so a hostile name shows as text.
"""

from __future__ import annotations

from collections.abc import Sequence

from scorer.leaderboard.ranking import RANKED, Standing
from scorer.leaderboard.render import (
    COLUMNS,
    GROUP_TITLES,
    TEXT_COLUMNS,
    display_row,
    groups,
    notes,
)
from scorer.templates import render


def to_html(standings: Sequence[Standing], title: str = "Leaderboard") -> str:
    """One HTML page: a table per group (ranking, honourable mentions, ...), the footnotes."""
    shown = [
        {
            "key": group,
            "title": GROUP_TITLES[group],
            "rows": [{"ranked": s.group == RANKED, "cells": display_row(s)} for s in members],
        }
        for group, members in groups(standings)
    ]
    return render(
        "leaderboard.html",
        title=title,
        columns=COLUMNS,
        numeric=[c not in TEXT_COLUMNS for c in COLUMNS],
        groups=shown,
        notes=notes(standings),
    )
