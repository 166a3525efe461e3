"""Strings from a submission made safe for the organizer's terminal.

An exception message, a file name or a log line is the submission's text: escape
sequences in it could rewrite the terminal (move the cursor, retitle the window, hide
lines) and ``[...]`` could be read as rich markup. :func:`printable` writes every control
character as an escape (``\\x1b``, ``\\n``) and escapes rich's markup brackets;
:func:`printable_record` does it to every string of a record (iteratively, any depth).
Standard library only.
"""

from __future__ import annotations

import unicodedata

ONE_LINE_CHARS = 1000


def _escape_char(char: str) -> str:
    if char == "\\":
        return "\\\\"
    category = unicodedata.category(char)
    if category in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
        code = ord(char)
        if code < 0x100:
            return f"\\x{code:02x}"
        return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
    return char


def printable(text: str) -> str:
    """``text`` with control and format characters escaped and rich markup neutralized
    (an opening bracket is escaped, as ``rich.markup.escape`` does)."""
    escaped = "".join(_escape_char(c) for c in text)
    return escaped.replace("[", "\\[")


def one_line(err: BaseException, limit: int = ONE_LINE_CHARS) -> str:
    """An exception as one line of at most ``limit`` characters: ``Type: message``."""
    text = " ".join(str(err).split())
    line = f"{type(err).__name__}: {text}" if text else type(err).__name__
    return line if len(line) <= limit else line[: limit - 1] + "…"


def printable_record(record: object) -> object:
    """A copy of ``record`` (dicts, lists, strings...) with every string made printable,
    keys included."""
    root: list = [None]
    stack = [(record, root, 0)]
    while stack:
        value, parent, key = stack.pop()
        if isinstance(value, str):
            parent[key] = printable(value)
        elif isinstance(value, dict):
            copy: dict = {}
            parent[key] = copy
            for name, item in value.items():
                new_key = printable(name) if isinstance(name, str) else name
                copy[new_key] = None
                stack.append((item, copy, new_key))
        elif isinstance(value, list | tuple):
            items = [None] * len(value)
            parent[key] = items
            stack.extend((item, items, i) for i, item in enumerate(value))
        else:
            parent[key] = value
    return root[0]
