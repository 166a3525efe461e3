"""The bundle's plain page of numbers, when the report cannot be made: every value escaped."""

from __future__ import annotations

from html.parser import HTMLParser

from scorer.bundle.scoring import fallback_report


class _Page(HTMLParser):
    def __init__(self, page: str) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.text.append(data)


def test_the_fallback_page_shows_hostile_text_as_text():
    why = "report failed: <script>alert(1)</script>\x1b[2J\u202e"
    page = fallback_report({"final<img src=x>": 0.5, "mmlu": 0.25}, why)
    parsed = _Page(page)
    assert "script" not in parsed.tags and "img" not in parsed.tags
    assert "report failed: <script>alert(1)</script>\\x1b[2J\\u202e" in parsed.text
    assert parsed.text[-5:-1] == ["final<img src=x>", "0.5000", "mmlu", "0.2500"]
    assert page == fallback_report({"final<img src=x>": 0.5, "mmlu": 0.25}, why)
