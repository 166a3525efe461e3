"""``lume``: help and argument errors at once (no torch), one-line errors, the methods' table."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from baselines.methods import METHODS
from baselines.presets import PRESET_ENV
from starter_kit.cli.app import app
from starter_kit.cli.demo import DEMO_METHODS

from clis import assert_one_line_error, hard_breaks, probe, single_line_breaks

HELP_PAGES = (
    [],
    ["mini"],
    ["mini", "build"],
    ["demo"],
    ["baseline"],
    ["download"],
    ["prepare"],
    ["check-submission"],
)


def _probe(tmp_path: Path, *args: str):
    """``lume ARGS`` in a fresh interpreter, and the heavy modules it left imported."""
    return probe(tmp_path, "starter_kit.cli", "lume", *args)


@pytest.mark.parametrize("page", HELP_PAGES)
def test_help_explains_exits_zero_and_imports_no_torch(page: list[str], tmp_path: Path):
    result, heavy = _probe(tmp_path, *page, "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage" in result.stdout and len(result.stdout.splitlines()) > 5
    assert heavy == []


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["baseline", "--model", "m", "--data", "d", "--out", "o"], ["Missing argument"]),
        (["baseline", "ga", "--data", "d", "--out", "o"], ["--model needed"]),
        (["demo", "--bogus"], ["No such option: --bogus", "lume demo --help"]),
        (["mini", "build", "--epochs", "0"], ["--epochs"]),
        (["baseline", "zz", "--model", "m", "--data", "d", "--out", "o"], ["'zz'", "simnpo"]),
        (["download", "--bogus"], ["No such option: --bogus", "lume download --help"]),
        (["download", "--track"], ["--track", "requires an argument"]),
        (["prepare", "--root"], ["--root", "requires an argument"]),
        (["check-submission"], ["Missing argument"]),
        (["check-submission", "s.py", "--out"], ["--out", "requires an argument"]),
    ],
)
def test_argument_errors_are_one_line_exit_2_and_import_no_torch(
    args: list[str], needles: list[str], tmp_path: Path
):
    result, heavy = _probe(tmp_path, *args)
    assert_one_line_error(result, *needles)
    assert heavy == []


def test_mini_build_rejects_a_missing_source(tmp_path: Path):
    result, _ = _probe(
        tmp_path,
        "mini",
        "build",
        "--out",
        str(tmp_path / "t"),
        "--source",
        str(tmp_path / "nowhere"),
    )
    assert_one_line_error(result, "nowhere")
    assert not (tmp_path / "t").exists()


def test_baseline_rejects_an_unknown_method_and_missing_data(tmp_path: Path):
    common = ["--model", str(tmp_path), "--out", str(tmp_path / "o")]
    result, _ = _probe(tmp_path, "baseline", "zz", "--data", str(tmp_path), *common)
    assert_one_line_error(result, "zz")
    result, _ = _probe(tmp_path, "baseline", "ga", "--data", str(tmp_path / "nothing"), *common)
    assert_one_line_error(result, "nothing")
    assert not (tmp_path / "o").exists()


def test_every_method_of_the_table_is_accepted_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv(PRESET_ENV, raising=False)  # run_baseline sets it: restore it after
    common = ["--model", str(tmp_path), "--data", str(tmp_path / "nothing"), "--out", "o"]
    for name in METHODS:  # the name passes; the error is then about the data
        result = CliRunner().invoke(app, ["baseline", name, *common])
        assert result.exit_code == 2 and "nothing" in result.output, result.output
        assert "expected one of" not in result.output


def test_baseline_help_lists_the_methods_of_the_table():
    result = CliRunner().invoke(app, ["baseline", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    listed = [line for line in result.output.splitlines() if " - " in line]
    assert len(listed) == len(METHODS)
    for method, line in zip(METHODS.values(), listed):
        assert f"{method.name} - {method.summary}." in line


def test_the_demo_runs_methods_of_the_table():
    assert DEMO_METHODS == ("ga", "gd", "kl", "npo")
    assert all(name in METHODS for name in DEMO_METHODS)
    result = CliRunner().invoke(app, ["demo", "--help"], env={"COLUMNS": "200"})
    assert "Also run GA, GD, KL and NPO." in result.output


# ------------------------------------------------------------------ how help texts render


def test_help_texts_have_no_line_breaks_inside_paragraphs():
    assert single_line_breaks(app) == []


@pytest.mark.parametrize("columns", [80, 200])
@pytest.mark.parametrize("page", HELP_PAGES)
def test_help_wraps_at_the_terminal_width_only(page: list[str], columns: int):
    result = CliRunner().invoke(app, [*page, "--help"], env={"COLUMNS": str(columns)})
    assert result.exit_code == 0
    assert max(len(line) for line in result.output.splitlines()) == columns
    assert hard_breaks(result.output, columns) == []


def test_baseline_takes_model_data_fold_and_preset_from_the_track(
    tiny_track: Path, tmp_path: Path, clean_environment: pytest.MonkeyPatch
):
    clean_environment.setenv("LUME_BASELINE_EPOCHS", "1")
    out = tmp_path / "ga"
    args = ["baseline", "ga", "--track", "mini", "--root", str(tiny_track), "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "preset mini (the track's), fold train" in result.output  # the mini target's preset
    assert (out / "config.json").is_file()
    given = CliRunner().invoke(app, [*args, "--preset", "reference", "--fold", "validation"])
    assert given.exit_code == 0, given.output
    assert "preset reference (given), fold validation" in given.output  # explicit wins
