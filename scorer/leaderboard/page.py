"""The leaderboard as one self-contained HTML page: no script, no network, every string escaped.

Names come from directories that entrants choose, and reasons quote their errors: each is
made printable and HTML-escaped (``html.escape`` with quotes), and the page's content
security policy forbids scripts and remote loads, so a hostile name shows as text.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from scorer.leaderboard.ranking import RANKED, Standing
from scorer.leaderboard.render import (
    COLUMNS,
    GROUP_TITLES,
    TEXT_COLUMNS,
    display_row,
    groups,
    notes,
    printable,
)

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin-bottom: 1.5em; }
th, td { padding: 0.3em 0.7em; border-bottom: 1px solid #ddd; }
th { background: #f4f4f4; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.unranked td { color: #666; }
ul.notes { font-size: 0.9em; color: #444; }
"""
POLICY = "default-src 'none'; style-src 'unsafe-inline'"


def _text(value: str) -> str:
    return html.escape(printable(value), quote=True)


def _table(members: Sequence[Standing]) -> list[str]:
    head = "".join(f"<th>{_text(c)}</th>" for c in COLUMNS)
    lines = ["<table>", f"<thead><tr>{head}</tr></thead>", "<tbody>"]
    for s in members:
        cells = "".join(
            f"<td>{_text(v)}</td>" if c in TEXT_COLUMNS else f'<td class="num">{_text(v)}</td>'
            for c, v in zip(COLUMNS, display_row(s))
        )
        row_class = "" if s.group == RANKED else ' class="unranked"'
        lines.append(f"<tr{row_class}>{cells}</tr>")
    return [*lines, "</tbody>", "</table>"]


def page_opening(title_html: str, policy: str, style: str) -> list[str]:
    """A self-contained page's lines up to ``<body>``: its content security policy (what
    may load or run) and its style sheet inline, so it opens offline. Also the report's."""
    return [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{policy}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{title_html}</title>",
        f"<style>{style}</style>",
        "</head>",
        "<body>",
    ]


def to_html(standings: Sequence[Standing], title: str = "Leaderboard") -> str:
    """One HTML page: a table per group (ranking, honourable mentions, ...), the footnotes."""
    lines = [*page_opening(_text(title), POLICY, STYLE), f"<h1>{_text(title)}</h1>"]
    for group, members in groups(standings):
        lines += [f'<section id="{group}">', f"<h2>{_text(GROUP_TITLES[group])}</h2>"]
        lines += [*_table(members), "</section>"]
    lines += ['<ul class="notes">', *(f"<li>{_text(n)}</li>" for n in notes(standings)), "</ul>"]
    lines += ["</body>", "</html>"]
    return "\n".join(lines) + "\n"
