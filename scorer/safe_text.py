"""Untrusted text made safe for where it is shown: the terminal, HTML, Markdown, CSV.

Names are directory and file names that entrants choose, reasons quote their errors, and
generations are their model's text: any of them may hold an escape sequence that rewrites a
terminal, a bidi override that reverses what follows (``\\u202e``), a newline that adds a
table row, markup, or a spreadsheet formula. Every target starts from :func:`printable`
(one rule: a character that ``str.isprintable`` refuses, and a lone surrogate from
undecodable bytes, written as its Python escape, the backslash doubled so that the result
reads back as exactly one string), then escapes what is special in that target:

- :func:`terminal`: rich's markup (``[``), one line; :func:`terminal_record` for a record;
- :func:`html`: text or attribute content, ``& < > " '`` escaped; one line, or a block
  that keeps its newlines and tabs;
- :func:`markdown`: a table cell or a list item, one line, every special character escaped;
- :func:`csv_cell`: a cell a spreadsheet will not run as a formula, one line.

Standard library only (the sandbox's runner imports it); the same text gives the same bytes.
"""

from __future__ import annotations

import html as _html

ONE_LINE_CHARS = 1000
BLOCK_KEPT = "\n\t"  # what a block of text (HTML's pre-wrap cells) keeps as it is


def _escape(char: str) -> str:
    return "\\\\" if char == "\\" else ascii(char)[1:-1]  # '\n', '\x1b', '\u202e', '\udcff'


def printable(text: str, *, keep: str = "") -> str:
    """``text`` on one line with nothing hidden: every character that is not printable
    (control and format characters, bidi overrides, zero-width and non-ASCII spaces, line
    and paragraph separators, surrogates, private and unassigned code points) and the
    backslash written as their Python escapes; the characters of ``keep`` left as they are.
    The result always encodes as UTF-8."""
    if text.isprintable() and "\\" not in text:
        return text  # the common case, at C speed
    return "".join(c if (c.isprintable() and c != "\\") or c in keep else _escape(c) for c in text)


def terminal(text: str) -> str:
    """``text`` for the organizer's terminal through rich: :func:`printable`, and rich's
    markup neutralized (an opening bracket escaped, as ``rich.markup.escape`` does)."""
    return printable(text).replace("[", "\\[")


def terminal_record(record: object) -> object:
    """A copy of ``record`` (dicts, lists, tuples, strings ...) with every string passed
    through :func:`terminal`, keys included; iterative, so any depth."""
    root: list = [None]
    stack = [(record, root, 0)]
    while stack:
        value, parent, key = stack.pop()
        if isinstance(value, str):
            parent[key] = terminal(value)
        elif isinstance(value, dict):
            copy: dict = {}
            parent[key] = copy
            for name, item in value.items():
                new_key = terminal(name) if isinstance(name, str) else name
                copy[new_key] = None
                stack.append((item, copy, new_key))
        elif isinstance(value, list | tuple):
            items = [None] * len(value)
            parent[key] = items
            stack.extend((item, items, i) for i, item in enumerate(value))
        else:
            parent[key] = value
    return root[0]


def html(value: object, *, block: bool = False) -> str:
    """Any value as HTML text or attribute content (inside double or single quotes):
    :func:`printable` (``block``: newlines and tabs kept, for text shown as a block), then
    ``& < > " '`` escaped. The one escaping of every page's templates."""
    return _html.escape(printable(str(value), keep=BLOCK_KEPT if block else ""), quote=True)


_MARKDOWN_SPECIAL = frozenset("\\`*_[]<>|&~$")


def markdown(text: str) -> str:
    """``text`` as inline Markdown (a table cell, a heading's or a list item's text after
    its marker): :func:`printable` (one line: no newline adds a row), then every character
    that GitHub-flavoured Markdown or inline HTML reads as syntax escaped with a backslash:
    ``|`` that would add a cell, emphasis, code, links and images, tags, entities,
    strikethrough, math."""
    return "".join("\\" + c if c in _MARKDOWN_SPECIAL else c for c in printable(text))


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def csv_cell(text: str) -> str:
    """``text`` as a CSV cell a spreadsheet will not run as a formula: :func:`printable`
    (one line: no newline splits the row), and a quote prefixed when it starts with
    ``= + - @`` (or their full-width forms), as OWASP advises."""
    text = printable(text)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def one_line(err: BaseException, limit: int = ONE_LINE_CHARS) -> str:
    """An exception as one line of at most ``limit`` characters: ``Type: message`` (its
    whitespace collapsed; not escaped: pass it through a target's function to show it)."""
    text = " ".join(str(err).split())
    line = f"{type(err).__name__}: {text}" if text else type(err).__name__
    return line if len(line) <= limit else line[: limit - 1] + "…"
