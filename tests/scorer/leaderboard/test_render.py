"""Rendering: Markdown, CSV, JSON and HTML complete, hostile names escaped, same bytes."""

from __future__ import annotations

import csv
import io
import json
from html.parser import HTMLParser

import pytest

from scorer.leaderboard import Entry, format_duration, rank, render

HOSTILE = '<script>alert(1)</script>"><img src=x onerror=alert(2)>|[x](javascript:y)'


def _standings(crafted, first_name: str = "npo|v2", reverse: bool = False):
    s, b = crafted.scores, crafted.bootstrap
    entries = [
        Entry(
            first_name,
            "runs/a",
            "ok",
            s(0.8, 0.7, 0.6, boot=b([0.70, 0.71, 0.69, 0.70], [0.69, 0.71])),
            wall_seconds=3725.0,
            gpu_seconds=5400.0,
            allocated_gpu_seconds=29800.0,
        ),
        Entry(
            "kl",
            "runs/kl",
            "ok",
            s(0.6, 0.6, 0.6, boot=b([0.60, 0.72, 0.50, 0.60], [0.50, 0.72])),
            wall_seconds=100.0,
            gpu_seconds=0.0,
        ),
        Entry("ga", "runs/ga/scores.json", "ok", s(0.5, 0.5, 0.2)),
        Entry("dead", "runs/dead", "oom", None, wall_seconds=12.25, reason="memory passed"),
    ]
    return rank(entries[::-1] if reverse else entries, mmlu_threshold=0.371)


def test_markdown_lists_groups_apart_with_every_column(crafted):
    text = render(_standings(crafted), "md")
    lines = text.splitlines()
    header = (
        "| rank | name | final | 95% interval | P(order) | task agg. | MIA score | MMLU "
        "| wall time | GPU-h | notes |"
    )
    assert lines[:6] == [
        "# Leaderboard",
        "",
        "## Ranking",
        "",
        header,
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    assert lines[6] == (
        "| 1 | npo\\|v2 | 0.7000 | 0.6900\u20130.7100 | 0.750 | 0.8000 | 0.7000 | 0.6000 "
        "| 1h02m05s | 1.50 |  |"
    )  # P(order) over kl: above in 3 replicates of 4 (0.70 > 0.60, 0.69 > 0.50, 0.70 > 0.60)
    assert lines[7] == (
        "| 2 | kl | 0.6000 | 0.5000\u20130.7200 | - | 0.6000 | 0.6000 | 0.6000 | 1m40s | 0.00 |  |"
    )
    mentions = lines.index("## Honourable mentions (MMLU below the threshold, not ranked)")
    assert lines[mentions + 4] == (
        "|  | ga | 0.4000 | - | - | 0.5000 | 0.5000 | 0.2000 | - | - | MMLU below 0.371 |"
    )  # no run.json: wall time and GPU-hours unknown
    unscored = lines.index("## Not scored")
    assert unscored > mentions
    assert lines[unscored + 4] == (
        "|  | dead | - | - | - | - | - | - | 12.2s | - | oom; memory passed |"
    )
    assert "- MMLU threshold: 0.371; entries below it are honourable mentions." in lines


def test_markdown_escapes_every_special_character(crafted):
    text = render(_standings(crafted, first_name=HOSTILE + "\nrow"), "md")
    row = next(line for line in text.splitlines() if "alert(1)" in line)
    unescaped_bars = row.replace("\\|", "").count("|")
    assert unescaped_bars == 12  # 11 columns: the name added no cell
    assert "<" not in row.replace("\\<", "") and "[" not in row.replace("\\[", "")
    assert "\\nrow" in row  # the newline is written out, not a new table row


def test_csv_has_full_precision_and_no_formulas(crafted):
    standings = _standings(crafted, first_name="=HYPERLINK(1)")
    rows = list(csv.DictReader(io.StringIO(render(standings, "csv"))))
    assert [r["name"] for r in rows] == ["'=HYPERLINK(1)", "kl", "ga", "dead"]
    assert rows[0]["rank"] == "1" and rows[2]["rank"] == ""
    assert float(rows[0]["final_score"]) == (0.8 + 0.7 + 0.6) / 3
    assert (rows[0]["final_score_lo"], rows[0]["final_score_hi"], rows[0]["p_order"]) == (
        "0.69",
        "0.71",
        "0.75",
    )
    assert (rows[0]["gpu_hours"], rows[0]["allocated_gpu_hours"]) == ("1.5", str(29800 / 3600))
    assert rows[2]["mmlu_passed"] == "False" and rows[2]["flags"] == "MMLU below 0.371"
    assert rows[3]["status"] == "oom" and rows[3]["final_score"] == ""
    assert rows[3]["wall_seconds"] == "12.25" and rows[3]["reason"] == "memory passed"


def test_json_holds_every_entry_and_the_notes(crafted):
    board = json.loads(render(_standings(crafted), "json"))
    assert board["mmlu_thresholds"] == [0.371]
    first = board["entries"][0]
    assert (first["rank"], first["name"], first["group"]) == (1, "npo|v2", "ranked")
    assert first["final_score_interval"] == [0.69, 0.71] and first["p_order"] == 0.75
    assert first["gpu_hours"] == 1.5 and first["source"] == "runs/a"
    assert [e["group"] for e in board["entries"]] == [
        "ranked",
        "ranked",
        "below_threshold",
        "unscored",
    ]
    assert any(note.startswith("P(order)") for note in board["notes"])


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[dict] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs.append(dict(attrs))

    def handle_data(self, data):
        self.text.append(data)


def test_html_is_one_page_and_shows_a_hostile_name_as_text(crafted):
    page = render(_standings(crafted, first_name=HOSTILE), "html", title="<b>Board</b>")
    parser = _Page()
    parser.feed(page)
    assert set(parser.tags) <= {
        "html", "head", "meta", "title", "style", "body", "h1", "h2", "section",
        "table", "thead", "tbody", "tr", "th", "td", "ul", "li",
    }  # fmt: skip
    assert "script" not in parser.tags and "img" not in parser.tags and "b" not in parser.tags
    assert HOSTILE in parser.text and "<b>Board</b>" in parser.text  # shown as written
    assert parser.tags.count("table") == 3  # ranking, honourable mentions, not scored
    (policy,) = [a["content"] for a in parser.attrs if a.get("http-equiv")]
    assert policy == "default-src 'none'; style-src 'unsafe-inline'"  # no script, no remote load
    assert "http" not in page.replace('http-equiv="Content-Security-Policy"', "")


def test_unprintable_characters_are_written_out_in_every_format(crafted):
    standings = _standings(crafted, first_name="a\nb\x1b[31mc\udcff\u202e")
    written = "a\\nb\\x1b[31mc\\udcff\\u202e"
    assert written in render(standings, "html")
    assert written.replace("\\", "\\\\").replace("[", "\\[") in render(standings, "md")
    assert next(csv.DictReader(io.StringIO(render(standings, "csv"))))["name"] == written
    for fmt in ("md", "csv", "html", "json"):
        out = render(standings, fmt)
        assert "\x1b" not in out and "\u202e" not in out and out.encode("utf-8")


def test_every_format_is_the_same_whatever_the_order_of_the_results(crafted):
    for fmt in ("md", "csv", "html", "json"):
        assert render(_standings(crafted), fmt) == render(_standings(crafted, reverse=True), fmt)
    with pytest.raises(ValueError, match="unknown leaderboard format 'xml'"):
        render(_standings(crafted), "xml")


def test_format_duration():
    assert [format_duration(s) for s in (None, 5.04, 65, 3600, 7322.6)] == [
        "-",
        "5.0s",
        "1m05s",
        "1h00m00s",
        "2h02m03s",
    ]
