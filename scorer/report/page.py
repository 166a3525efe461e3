"""The report's page: what a section holds (text, figures, tables, the items), laid out by
the template ``report.html`` with its one inline script (``report.js``).

Sections hold data, never HTML: every string, entrants' names and generations included, is
escaped by the templates (:mod:`scorer.templates`: autoescaped, through
:func:`scorer.safe_text.html`). The page's Content-Security-Policy lets nothing load from
anywhere (``default-src 'none'``): images are ``data:`` URIs, and the only script that may
run is ``report.js``, allowed by its hash (:data:`SCRIPT_DIGEST`, computed from the
script as the page holds it), so even a string that slipped through unescaped could neither run
code nor fetch anything.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from scorer.templates import render, script, script_digest

# Records how many figures loaded (``data-figures-loaded="N/M"`` on <body>, for a headless
# browser's check), and filters the items table by split, task, kind and text; a URL hash
# (``#split=forget&q=abbey``) presets the filters, and changing them rewrites it.
SCRIPT = script("report.js")
SCRIPT_DIGEST = script_digest(SCRIPT)


def number(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


@dataclass(frozen=True)
class Paragraph:
    text: str
    small: bool = False
    kind: ClassVar[str] = "paragraph"


@dataclass(frozen=True)
class Figure:
    """A PNG embedded as a data URI: the page needs no network and no other file."""

    png: bytes
    alt: str
    kind: ClassVar[str] = "figure"

    @property
    def base64(self) -> str:
        return base64.b64encode(self.png).decode("ascii")


@dataclass(frozen=True)
class NotAvailable:
    why: str
    kind: ClassVar[str] = "not_available"


@dataclass(frozen=True)
class WithInterval:
    """A number and, after it in small type, its interval (``[lo, hi]``) when known."""

    value: str
    interval: str | None = None


@dataclass(frozen=True)
class Table:
    """Rows of cells (text, or :class:`WithInterval`); ``numeric`` right-aligns a column;
    ``summary``: the table folded under that line (``<details>``)."""

    head: Sequence[str]
    rows: Sequence[Sequence[str | WithInterval]]
    numeric: Sequence[bool]
    summary: str | None = None
    kind: ClassVar[str] = "table"


@dataclass(frozen=True)
class Bullets:
    items: Sequence[str]
    kind: ClassVar[str] = "bullets"


@dataclass(frozen=True)
class Generation:
    text: str
    score: str
    empty: bool = False


@dataclass(frozen=True)
class ItemRow:
    id: str
    task: str
    split: str
    kind: str
    input: str
    expected: str
    generations: Sequence[Generation]


@dataclass(frozen=True)
class Items:
    """The items table, filterable by the values of ``filters`` (split, task, kind)."""

    head: Sequence[str]
    filters: Sequence[tuple[str, Sequence[str]]]
    rows: Sequence[ItemRow]
    kind: ClassVar[str] = "items"


Part = Paragraph | Figure | NotAvailable | Table | Bullets | Items


@dataclass(frozen=True)
class Section:
    """One part of the report: its anchor, title, what it shows, and whether it had data
    (``note`` says why not, or what it shows, for the terminal summary)."""

    key: str
    title: str
    parts: tuple[Part, ...]
    available: bool
    note: str = ""


@dataclass(frozen=True)
class Header:
    """What the page says first: the kit's version, the result and the ones beside it,
    the steps of a series, the settings it was scored with, the scorer's warnings."""

    version: str
    name: str
    others: Sequence[str] = ()
    steps: int = 0
    last_step: int | None = None
    last_name: str = ""
    facts: Sequence[tuple[str, object]] = ()
    warnings: Sequence[str] = field(default_factory=tuple)


def document(title: str, header: Header, sections: Sequence[Section]) -> str:
    """The whole page: head (policy, style), title, navigation, sections, the script."""
    return render(
        "report.html",
        title=title,
        header=header,
        sections=sections,
        script_digest=SCRIPT_DIGEST,
    )
