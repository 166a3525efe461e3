"""Strings from a submission reach the organizer's terminal escaped."""

from __future__ import annotations

import io

from rich.console import Console

from scorer.sandbox.terminal import one_line, printable, printable_record


def test_control_characters_are_written_as_escapes_and_markup_is_neutral():
    hostile = "boom\x1b]0;owned\x07\x1b[2J\r\n[bold red]fake ok[/]\u202etxt.py\\"
    safe = printable(hostile)
    assert all(c.isprintable() for c in safe)
    assert safe == (
        "boom\\x1b]0;owned\\x07\\x1b\\[2J\\x0d\\x0a\\[bold red]fake ok\\[/]\\u202etxt.py\\\\"
    )
    console = Console(width=200, color_system=None, record=True, file=io.StringIO())
    console.print(safe)
    shown = console.export_text()
    assert "[bold red]fake ok[/]" in shown and "\x1b" not in shown  # shown, not obeyed


def test_every_string_of_a_record_is_escaped_at_any_depth():
    record = {"reason": "a\x1b[31m", "events": [{"error\n": ["\x07"]}], "n": 3, "ok": None}
    assert printable_record(record) == {
        "reason": "a\\x1b\\[31m", "events": [{"error\\x0a": ["\\x07"]}], "n": 3, "ok": None,
    }  # fmt: skip
    deep: list = []
    inner = deep
    for _ in range(5000):  # deeper than the recursion limit
        inner.append([])
        inner = inner[0]
    assert printable_record(deep) is not None


def test_an_exception_is_one_bounded_line():
    assert one_line(ValueError("a\n  b")) == "ValueError: a b"
    assert len(one_line(ValueError("x" * 5000))) == 1000
    assert one_line(KeyboardInterrupt()) == "KeyboardInterrupt"
