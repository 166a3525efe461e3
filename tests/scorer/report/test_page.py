"""The report page: every section, the numbers it shows, entrants' text kept inert, and
"not available" where a part is missing."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from scorer.errors import LumeError
from scorer.report import build, write_report
from scorer.report.page import SCRIPT, SCRIPT_DIGEST

from paths import REPO

SECTIONS = ["summary", "tasks", "mia", "mmlu", "steps", "budget", "items"]


class Page(HTMLParser):
    """What the tests look at: tags counted, sections, images, item rows and their cells."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: dict[str, int] = {}
        self.sections: list[str] = []
        self.images: list[str] = []
        self.rows: list[dict] = []  # item rows: their data-* attributes and cell texts
        self.scripts: list[str] = []
        self.policies: list[str] = []  # the Content-Security-Policy as the browser reads it
        self._cell: list[str] | None = None
        self._in_script = False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags[tag] = self.tags.get(tag, 0) + 1
        if tag == "section":
            self.sections.append(attrs["id"])
        elif tag == "img":
            self.images.append(attrs["src"])
        elif tag == "tr" and "data-split" in attrs:
            self.rows.append({"attrs": attrs, "cells": []})
        elif tag == "td" and self.rows and self._cell is None:
            self._cell = []
        elif tag == "script":
            self._in_script = True
        elif tag == "meta" and attrs.get("http-equiv") == "Content-Security-Policy":
            self.policies.append(attrs["content"])

    def handle_endtag(self, tag):
        if tag == "td" and self._cell is not None:
            self.rows[-1]["cells"].append("".join(self._cell))
            self._cell = None
        elif tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        if self._in_script:
            self.scripts.append(data)


def _section(html: str, key: str) -> str:
    return re.search(rf'<section id="{key}">(.*?)</section>', html, re.S).group(1)


def test_the_report_has_every_section_and_its_numbers(tmp_path: Path, write_result, write_run):
    sub = write_result(tmp_path / "npo" / "evaluation", seed=1, leak=0.1)
    write_run(tmp_path / "npo", wall_seconds=150.0, time_limit_seconds=600.0)
    target = write_result(tmp_path / "target", seed=2, leak=0.95)
    report = build(tmp_path / "npo", [tmp_path / "target"])
    page = Page(report.html)
    assert page.sections == SECTIONS
    assert [s.available for s in report.sections] == [True] * 4 + [False, True, True]
    summary = _section(report.html, "summary")
    for scores in (sub, target):
        assert f"{scores['final_score']:.3f}" in summary
        low, high = scores["beyond_official"]["bootstrap"]["final_score"]
        assert f"[{low:.3f}, {high:.3f}]" in summary
    budget = _section(report.html, "budget")
    assert "2m30s of 10m00s (25%)" in budget and "3.00 GiB" in budget and "120.5" in budget
    assert "No run.json for target" in budget
    mmlu = _section(report.html, "mmlu")
    history = sub["mmlu_details"]["by_subject"]["world_history"]
    assert f"{history['correct']}/4 ({history['correct'] / 4:.3f})" in mmlu
    # figures: tasks, one MIA figure per result, MMLU; every one a PNG data URI
    assert len(page.images) == 4
    assert all(src.startswith("data:image/png;base64,iVBORw0KGgo") for src in page.images)


def test_each_item_row_shows_both_generations_matched_by_id(tmp_path: Path, write_result):
    write_result(tmp_path / "sub", seed=1, generation=lambda e: f"SUB {e}")
    write_result(tmp_path / "target", seed=1, generation=lambda e: f"TARGET {e}")
    items = [json.loads(x) for x in (tmp_path / "sub" / "items.jsonl").read_text().splitlines()]
    target_rows = (tmp_path / "target" / "items.jsonl").read_text().splitlines()
    (tmp_path / "target" / "items.jsonl").write_text("\n".join(reversed(target_rows)) + "\n")
    page = Page(build(tmp_path / "sub", [tmp_path / "target"]).html)
    assert len(page.rows) == len(items)
    for row, item in zip(page.rows, items):
        assert row["attrs"] == {"data-split": item["split"], "data-task": item["task"],
                                "data-kind": item["kind"]}  # fmt: skip
        cells = row["cells"]
        assert cells[:6] == [item[k] for k in ("id", "task", "split", "kind", "input", "expected")]
        expected_generation = "something else"
        if item["generation"] != "something else":
            expected_generation = f"TARGET {item['expected']}"
        assert cells[6] == item["generation"] and cells[8] == expected_generation
        shown = f"{item['score']:g}" if item["kind"] == "qa" else f"{item['score']:.3f}"
        assert cells[7] == shown


HOSTILE = '</div></td><script>alert(1)</script><img src=x onerror="alert(2)"> & "\x1b\ud800'


def test_entrants_text_and_names_stay_inert(tmp_path: Path, write_result):
    name = 'x"><img src=y onerror=alert(3)>'
    write_result(tmp_path / name, generation=lambda e: HOSTILE)
    html = build(tmp_path / name).html
    page = Page(html)
    assert "<title>LUME report: x&quot;&gt;&lt;img src=y onerror=alert(3)&gt;</title>" in html
    assert page.tags["script"] == 1 and "".join(page.scripts) == SCRIPT
    assert all(src.startswith("data:image/png;base64,") for src in page.images)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=&quot;alert(2)&quot;&gt;" \
        in html  # fmt: skip
    assert "\\x1b\\ud800" in html and "\x1b" not in html
    assert html.encode("utf-8")  # a lone surrogate would not encode
    assert any(r["cells"][6] == HOSTILE.replace("\x1b\ud800", "\\x1b\\ud800") for r in page.rows)
    digest = base64.b64encode(hashlib.sha256(SCRIPT.encode()).digest()).decode()
    assert page.policies == [
        "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
        f"script-src 'sha256-{digest}'; base-uri 'none'; form-action 'none'"
    ]  # the one script the page holds is the one its policy allows, and nothing loads


def test_the_script_is_the_templates_and_its_hash_follows_it():
    source = (REPO / "scorer" / "templates" / "report.js").read_text(encoding="utf-8")
    assert source == SCRIPT and "function apply()" in SCRIPT
    digest = base64.b64encode(hashlib.sha256(source.encode()).digest()).decode()
    assert digest == SCRIPT_DIGEST


def test_missing_parts_say_not_available(tmp_path: Path, write_result):
    write_result(tmp_path / "old", mia=False, by_subject=False)
    (tmp_path / "old" / "items.jsonl").unlink()
    report = build(tmp_path / "old")
    assert [s.available for s in report.sections] == [True, True, False, False, False, False,
                                                      False]  # fmt: skip
    for key in ("mia", "mmlu", "steps", "budget", "items"):
        assert "Not available:" in _section(report.html, key), key
    assert "no mmlu_details.by_subject" in _section(report.html, "mmlu")
    assert len(Page(report.html).images) == 1  # the tasks figure only


def test_a_series_draws_the_steps_and_details_the_last(tmp_path: Path, write_result):
    for step, leak in ((100, 0.9), (200, 0.5), (300, 0.1)):
        write_result(tmp_path / "run" / f"checkpoint-{step}", seed=step, leak=leak)
    report = build(tmp_path / "run")
    steps = _section(report.html, "steps")
    assert [s.key for s in report.sections if s.available] == [*SECTIONS[:5], "items"]
    assert re.findall(r"<td class=\"num\">(\d+)</td><td>checkpoint-\d+</td>", steps) == [
        "100", "200", "300"
    ]  # fmt: skip
    assert "the last, step 300 (checkpoint-300)" in report.html
    last = json.loads((tmp_path / "run" / "checkpoint-300" / "scores.json").read_text())
    assert f"{last['final_score']:.3f}" in _section(report.html, "summary")


def test_write_report_writes_atomically_or_not_at_all(tmp_path: Path, write_result):
    write_result(tmp_path / "r")
    out = tmp_path / "deep" / "report.html"
    assert write_report(tmp_path / "r", out) == out
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    before = out.read_bytes()
    (tmp_path / "r" / "scores.json").write_text("[]")
    with pytest.raises(LumeError, match="expected a JSON object"):
        write_report(tmp_path / "r", out)
    assert out.read_bytes() == before and sorted(p.name for p in out.parent.iterdir()) == [
        "report.html"
    ]  # fmt: skip


def test_the_same_inputs_give_the_same_bytes(tmp_path: Path, write_result):
    write_result(tmp_path / "r")
    assert build(tmp_path / "r").html == build(tmp_path / "r").html
