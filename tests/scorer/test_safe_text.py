"""Untrusted text made safe for each target: control characters, bidi overrides, newlines,
HTML specials, Markdown syntax, spreadsheet formulas; the same text gives the same bytes."""

from __future__ import annotations

import csv
import io
from html.parser import HTMLParser

import pytest
from rich.console import Console

from scorer.safe_text import (
    csv_cell,
    html,
    markdown,
    one_line,
    printable,
    terminal,
    terminal_record,
)

HOSTILE = "boom\x1b]0;owned\x07\x1b[2J\r\n[bold red]fake ok[/]\u202etxt.py\\"
BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"


def test_printable_writes_every_hidden_character_as_its_escape():
    assert printable("a\nb\x1b[31mc\udcff") == "a\\nb\\x1b[31mc\\udcff"
    assert printable("\t\r\x00\x7f\x85\u2028\u2029") == "\\t\\r\\x00\\x7f\\x85\\u2028\\u2029"
    assert printable("zero\u200bwidth\ufeff no\u00a0break \U000e0041") == (
        "zero\\u200bwidth\\ufeff no\\xa0break \\U000e0041"
    )
    assert printable(BIDI) == "".join(f"\\u{ord(c):04x}" for c in BIDI)
    assert printable("ok: é ß 漢字 🙂 'quote' \"q\" [x]") == "ok: é ß 漢字 🙂 'quote' \"q\" [x]"


def test_a_backslash_is_doubled_so_an_escape_cannot_be_forged():
    assert printable("\\x1b") == "\\\\x1b" != printable("\x1b")
    assert printable("a\\b") == "a\\\\b"


@pytest.mark.parametrize("fn", [printable, terminal, markdown, csv_cell])
def test_one_line_targets_are_one_printable_line_that_encodes(fn):
    for text in (HOSTILE, BIDI, "x\ud800y", "a\u2028b\u0085c\x0bd\x0ce", "\n=1+1\r\n"):
        safe = fn(text)
        assert safe.isprintable() and safe.encode("utf-8")
        assert fn(text) == safe  # the same text, the same bytes


def test_printable_keeps_only_what_it_is_told_to():
    assert printable("a\nb\tc\rd", keep="\n\t") == "a\nb\tc\\rd"


def test_terminal_neutralizes_rich_markup_and_escape_sequences():
    safe = terminal(HOSTILE)
    assert safe == (
        "boom\\x1b]0;owned\\x07\\x1b\\[2J\\r\\n\\[bold red]fake ok\\[/]\\u202etxt.py\\\\"
    )
    console = Console(width=200, color_system=None, record=True, file=io.StringIO())
    console.print(safe)
    shown = console.export_text()
    assert "[bold red]fake ok[/]" in shown and "\x1b" not in shown  # shown, not obeyed


def test_terminal_record_escapes_every_string_at_any_depth():
    record = {"reason": "a\x1b[31m", "events": [{"error\n": ("\x07",)}], "n": 3, "ok": None}
    assert terminal_record(record) == {
        "reason": "a\\x1b\\[31m", "events": [{"error\\n": ["\\x07"]}], "n": 3, "ok": None,
    }  # fmt: skip
    deep: list = []
    inner = deep
    for _ in range(5000):  # deeper than the recursion limit
        inner.append([])
        inner = inner[0]
    assert terminal_record(deep) is not None


class _Text(HTMLParser):
    def __init__(self, page: str) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.data: list[str] = []
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += attrs

    def handle_data(self, data):
        self.data.append(data)


def test_html_escapes_the_specials_in_text_and_in_attributes():
    hostile = "</td><script>alert(1)</script>&amp;\"'><img src=x onerror=alert(2)>"
    assert html(hostile) == (
        "&lt;/td&gt;&lt;script&gt;alert(1)&lt;/script&gt;&amp;amp;&quot;&#x27;&gt;"
        "&lt;img src=x onerror=alert(2)&gt;"
    )
    for quote in ('"', "'"):
        page = _Text(f"<p title={quote}{html(hostile)}{quote}>{html(hostile)}</p>")
        assert page.tags == ["p"] and page.attrs == [("title", hostile)]
        assert "".join(page.data) == hostile


def test_html_is_one_line_or_a_block_and_escapes_the_rest():
    text = "line 1\n\tline 2\r\x1b[2J\u202eevil\udcff"
    assert html(text, block=True) == "line 1\n\tline 2\\r\\x1b[2J\\u202eevil\\udcff"
    assert html(text) == "line 1\\n\\tline 2\\r\\x1b[2J\\u202eevil\\udcff"
    assert html(3) == "3" and html(None) == "None" and html(0.5) == "0.5"


def test_markdown_cannot_add_a_cell_a_row_a_link_or_a_tag():
    hostile = "a|b\n| x |<img src=x>[link](javascript:y) *em* _u_ `c` ~~s~~ $m$ &amp; \\"
    cell = markdown(hostile)
    assert cell == (
        "a\\|b\\\\n\\| x \\|\\<img src=x\\>\\[link\\](javascript:y) \\*em\\* \\_u\\_ \\`c\\` "
        "\\~\\~s\\~\\~ \\$m\\$ \\&amp; \\\\\\\\"
    )
    # rendered, the cell reads as printable(hostile): a written-out newline, a doubled backslash
    row = f"| {cell} | next |"
    assert row.replace("\\\\", "").replace("\\|", "").count("|") == 3  # two cells, no more
    assert markdown("npo v2 0.7000 - 1h02m05s") == "npo v2 0.7000 - 1h02m05s"


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\uff1d", "\uff0b", "\uff0d", "\uff20"])
def test_csv_cells_never_start_a_formula(start):
    cell = csv_cell(f'{start}HYPERLINK("http://x","y")')
    assert cell.startswith("'" + start)
    assert csv_cell("\t=1") == "\\t=1" and csv_cell("\r=1") == "\\r=1"  # escaped, inert
    assert csv_cell("npo=v2") == "npo=v2" and csv_cell("") == ""


def test_a_csv_cell_cannot_add_a_row():
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow([csv_cell("a\nb,c\r\n=1"), "next"])
    assert buffer.getvalue().count("\n") == 1
    assert list(csv.reader(io.StringIO(buffer.getvalue()))) == [["a\\nb,c\\r\\n=1", "next"]]


def test_an_exception_is_one_bounded_line():
    assert one_line(ValueError("a\n  b")) == "ValueError: a b"
    assert len(one_line(ValueError("x" * 5000))) == 1000
    assert one_line(KeyboardInterrupt()) == "KeyboardInterrupt"
