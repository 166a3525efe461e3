"""``lume-score leaderboard``: formats, files, the track's gate, one-line errors, same bytes."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scorer.cli.app import app


def _invoke(*args: str):
    return CliRunner().invoke(app, ["leaderboard", *args])


@pytest.fixture
def results_dir(tmp_path: Path, crafted) -> Path:
    s, b = crafted.scores, crafted.bootstrap
    crafted.write_scores(tmp_path / "alpha", s(0.8, 0.6, 0.4, threshold=0.371, boot=b([0.6, 0.5])))
    crafted.write_scores(tmp_path / "bravo", s(0.9, 0.9, 0.3, threshold=0.371))
    gpu = {"granted": [0], "allocated_gpu_seconds": 7200.0, "gpu_seconds": 3600.0}
    content = s(0.8, 0.6, 0.4, threshold=0.371, boot=b([0.7, 0.4]))
    crafted.write_run(tmp_path / "charlie", "ok", True, content, gpu=gpu)
    crafted.write_run(tmp_path / "delta", "failed", False, reason="unlearn() raised")
    crafted.write_run(tmp_path / "echo", "ok", True, None)  # run without --evaluate
    return tmp_path


NAMES = ("delta", "bravo", "alpha", "echo", "charlie")


def test_json_lists_ranked_mentions_and_unscored(results_dir: Path):
    result = _invoke(*(str(results_dir / n) for n in NAMES), "--json")
    assert result.exit_code == 0, result.output
    board = json.loads(result.stdout)
    assert board["mmlu_thresholds"] == [0.371]  # each result's own
    got = [(e["rank"], e["name"], e["group"], e["status"]) for e in board["entries"]]
    assert got == [
        (1, "alpha", "ranked", "ok"),
        (1, "charlie", "ranked", "ok"),  # tied
        (None, "bravo", "below_threshold", "ok"),
        (None, "delta", "unscored", "failed"),
        (None, "echo", "unscored", "not evaluated"),
    ]
    alpha, charlie = board["entries"][:2]
    assert (alpha["p_order"], alpha["pair_note"]) == (None, "tied: same final score")
    assert alpha["wall_seconds"] is None and alpha["gpu_hours"] is None  # no run.json
    assert charlie["wall_seconds"] == 61.0 and charlie["gpu_hours"] == 1.0
    assert board["entries"][3]["reason"] == "unlearn() raised"


def test_the_track_sets_the_gate_and_1b_has_none(results_dir: Path):
    paths = [str(results_dir / n) for n in ("alpha", "bravo")]

    def ranks(*options: str) -> dict[str, int | None]:
        result = _invoke(*paths, "--format", "json", *options)
        assert result.exit_code == 0, result.output
        return {e["name"]: e["rank"] for e in json.loads(result.stdout)["entries"]}

    # bravo (MMLU 0.3) has the better final score: gated on 7B (0.371), ranked first on 1B
    # although its own scores.json names a threshold of 0.371
    assert ranks("--track", "7B") == {"alpha": 1, "bravo": None}
    assert ranks("--track", "1B") == {"bravo": 1, "alpha": 2}
    assert ranks("--track", "7B", "--mmlu-threshold", "0.2") == {"bravo": 1, "alpha": 2}
    assert ranks("--track", "1B", "--mmlu-threshold", "0.371") == {"alpha": 1, "bravo": None}


@pytest.mark.parametrize(
    ("args", "suffix", "check"),
    [
        ((), ".md", lambda text: text.startswith("# Leaderboard\n\n## Ranking\n")),
        ((), ".html", lambda text: text.startswith("<!DOCTYPE html>")),
        ((), ".csv", lambda text: next(csv.reader([text.splitlines()[0]]))[:2] == ["rank", "name"]),
        ((), ".json", lambda text: json.loads(text)["entries"][0]["name"] == "alpha"),
        (("--format", "table"), ".out", lambda text: "honourable mentions" in text),
        (("--format", "md"), ".txt", lambda text: text.startswith("# Leaderboard")),
    ],
)
def test_out_writes_the_format_of_its_suffix_or_of_format(results_dir, args, suffix, check):
    out = results_dir / "board" / f"leaderboard{suffix}"
    result = _invoke(*(str(results_dir / n) for n in NAMES), "--out", str(out), *args)
    assert result.exit_code == 0, result.output
    assert check(out.read_text(encoding="utf-8"))
    assert f"wrote {out}" in result.stdout and "alpha" in result.stdout  # and the table
    assert [p.name for p in out.parent.iterdir()] == [out.name]  # no temporary left


def test_every_format_gives_the_same_bytes_in_any_order(results_dir: Path):
    forward = [str(results_dir / n) for n in NAMES]
    for fmt in ("table", "md", "csv", "html", "json"):
        first = _invoke(*forward, "--format", fmt)
        second = _invoke(*reversed(forward), "--format", fmt)
        assert first.exit_code == second.exit_code == 0, first.output
        assert first.stdout == second.stdout, fmt
        assert "charlie" in first.stdout


def test_a_directory_without_scores_is_one_line_exit_2(results_dir: Path):
    empty = results_dir / "foxtrot"
    empty.mkdir()
    out = results_dir / "board.md"
    result = _invoke(str(results_dir / "alpha"), str(empty), "--out", str(out))
    assert result.exit_code == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.output
    assert str(empty) in lines[0] and "holds neither run.json" in lines[0]
    assert not out.exists()  # nothing written half-way


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--format", "xml"), "--format 'xml' is not one of table, md, csv, html, json"),
        (("--out", "board.pdf"), "cannot tell the format from the suffix '.pdf'"),
        (("--json", "--format", "md"), "--json and --format md disagree"),
    ],
)
def test_bad_options_are_one_line_exit_2(results_dir: Path, args, needle):
    result = _invoke(str(results_dir / "alpha"), *args)
    assert result.exit_code == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and needle in lines[0]
