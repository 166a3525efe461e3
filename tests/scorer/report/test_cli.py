"""``lume-score report``: writes the page without torch, one-line errors, nothing half-written."""

from __future__ import annotations

import json
from pathlib import Path

from clis import assert_one_line_error, probe


def _report(tmp_path: Path, *args: str):
    return probe(tmp_path, "scorer.cli", "lume-score", "report", *args)


def test_report_writes_the_page_and_never_imports_torch(tmp_path: Path, write_result):
    write_result(tmp_path / "npo", leak=0.1)
    write_result(tmp_path / "target", seed=1, leak=0.9)
    out = tmp_path / "site" / "npo.html"
    args = [str(tmp_path / "npo"), "--compare", str(tmp_path / "target"), "--out", str(out)]
    result, heavy = _report(tmp_path, *args, "--json")
    assert result.returncode == 0, result.stderr
    assert heavy == []
    record = json.loads(result.stdout)
    assert record["out"] == str(out) and record["bytes"] == out.stat().st_size
    assert {k: v["shown"] for k, v in record["sections"].items()} == {
        "summary": True, "tasks": True, "mia": True, "mmlu": True,
        "steps": False, "budget": False, "items": True,
    }  # fmt: skip
    assert "<b>target</b>" in out.read_text()

    result, _ = _report(tmp_path, *args)  # the summary table
    assert result.returncode == 0, result.stderr
    assert "Along the steps" in result.stdout and "wrote" in result.stdout


def test_a_directory_without_scores_is_one_line_exit_2_and_writes_nothing(tmp_path: Path):
    (tmp_path / "empty").mkdir()
    out = tmp_path / "report.html"
    result, heavy = _report(tmp_path, str(tmp_path / "empty"), "--out", str(out))
    assert_one_line_error(result, str(tmp_path / "empty"), "no scores.json")
    assert not out.exists() and heavy == []


def test_help_and_argument_errors_answer_without_torch(tmp_path: Path):
    result, heavy = _report(tmp_path, "--help")
    assert result.returncode == 0 and "--compare" in result.stdout and heavy == []
    result, heavy = _report(tmp_path)
    assert_one_line_error(result, "Missing argument")
    assert heavy == []
