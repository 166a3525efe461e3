"""``lume-score``'s help and argument errors: right answers, at once (no torch), good wrapping."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scorer.cli.app import app

from clis import assert_one_line_error, hard_breaks, probe, single_line_breaks

COMMANDS = ("evaluate", "validate", "leaderboard", "run", "report", "bundle", "batch")


def _probe(tmp_path: Path, *args: str):
    """``lume-score ARGS`` in a fresh interpreter, and the heavy modules it left imported."""
    return probe(tmp_path, "scorer.cli", "lume-score", *args)


@pytest.mark.parametrize("args", [["--help"], *([c, "--help"] for c in COMMANDS)])
def test_help_explains_exits_zero_and_imports_no_torch(args: list[str], tmp_path: Path):
    result, heavy = _probe(tmp_path, *args)
    assert result.returncode == 0, result.stderr
    assert "Usage" in result.stdout and len(result.stdout.splitlines()) > 5
    assert heavy == []


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["evaluate", "model"], ["Missing option '--out'", "lume-score evaluate --help"]),
        (["validate", "ckpt", "--reference", "r", "--bogus"], ["No such option: --bogus"]),
        (["leaderboard"], ["Missing argument", "results"]),
        (["run", "s.py", "--out", "o", "--grace", "soon"], ["--grace", "number"]),
        (["evaluate", "m", "--out", "o", "--shots", "-1"], ["--shots"]),
        (["nope"], ["No such command 'nope'"]),
    ],
)
def test_argument_errors_are_one_line_exit_2_and_import_no_torch(
    args: list[str], needles: list[str], tmp_path: Path
):
    result, heavy = _probe(tmp_path, *args)
    assert_one_line_error(result, *needles)
    assert result.stdout == ""
    assert heavy == []


def test_no_arguments_prints_the_help_and_exits_2(tmp_path: Path):
    result, heavy = _probe(tmp_path)
    assert result.returncode == 2  # click's answer to a group called bare
    assert "Usage" in result.stdout and all(c in result.stdout for c in COMMANDS)
    assert heavy == []


def test_python_dash_m_is_lume_score():
    result = subprocess.run(
        [sys.executable, "-m", "scorer.cli", "leaderboard", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0 and "Rank results by final score" in result.stdout


# ------------------------------------------------------------------ how help texts render


def test_hard_breaks_finds_a_docstring_wrapped_at_the_source_width():
    rendered = (
        " Usage: x [OPTIONS]\n\n Ties share a rank. Entries below the threshold are flagged and\n"
        " listed after the ranking.\n\n╭─ Options ─╮\n"
    )
    assert hard_breaks(rendered, 200) == [
        "Ties share a rank. Entries below the threshold are flagged and"
    ]
    assert hard_breaks(rendered, 66) == []  # at 64 usable columns "listed" did not fit


def test_help_texts_have_no_line_breaks_inside_paragraphs():
    assert single_line_breaks(app) == []


@pytest.mark.parametrize("columns", [80, 200])
@pytest.mark.parametrize("args", [["--help"], *([c, "--help"] for c in COMMANDS)])
def test_help_wraps_at_the_terminal_width_only(args: list[str], columns: int):
    result = CliRunner().invoke(app, args, env={"COLUMNS": str(columns)})
    assert result.exit_code == 0
    assert max(len(line) for line in result.output.splitlines()) == columns
    assert hard_breaks(result.output, columns) == []
