"""``lume check-submission``: static checks without running anything (and without torch),
then a real ``lume-score run --evaluate`` on the tiny track; exit 0 scored, 1 not, 2 bad input."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import pytest

from starter_kit.check import imported_modules, local_isolation, missing_modules, static_checks

from clis import assert_one_line_error, probe
from paths import SUBMISSIONS

FOUR = "model, out, forget, retain"


def _write(tmp_path: Path, name: str, source: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(source))
    return path


def _check(tmp_path: Path, *args: str):
    return probe(tmp_path, "starter_kit.cli", "lume", "check-submission", *args)


def _one_error_line(result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("source", "needle"),
    [
        ("def unlearn(a, b\n", "parses: line 1"),
        ("def other(a, b, c, d):\n    pass\n", "no top-level def unlearn"),
        ("def unlearn(a, b, c):\n    pass\n", "four arguments"),
        ("async def unlearn(a, b, c, d):\n    pass\n", "four arguments"),
        (
            f"import os\nimport lume_no_such_module.sub\ndef unlearn({FOUR}):\n    pass\n",
            "not installed: lume_no_such_module",
        ),  # fmt: skip
    ],
)
def test_static_failures_are_one_line_exit_1_and_run_nothing(
    source: str, needle: str, tiny_track: Path, tmp_path: Path
):
    submission = _write(tmp_path, "sub.py", source)
    out = tmp_path / "out"
    result, heavy = _check(tmp_path, str(submission), "--root", str(tiny_track), "--out", str(out))
    assert result.returncode == 1, result.stderr
    line = _one_error_line(result)
    assert line.startswith("would not be scored:") and needle in line
    assert not out.exists() and heavy == []  # nothing ran, not even torch was imported


def test_the_static_checks_read_imports_and_signatures():
    tree = __import__("ast").parse(
        "import numpy.linalg as la\nfrom torch import nn\nfrom . import sibling\n"
        "try:\n    import lume_optional_thing\nexcept ImportError:\n    pass\n"
    )
    assert imported_modules(tree) == ["numpy", "torch"]
    assert missing_modules(["json", "sys", "lume_no_such_module", "pyarrow"]) == [
        "lume_no_such_module"
    ]
    checks = static_checks(SUBMISSIONS / "well_behaved.py")
    assert [c.passed for c in checks] == [True, True, True]


def test_a_submission_that_writes_nothing_would_not_be_scored(tiny_track: Path, tmp_path: Path):
    out = tmp_path / "out"
    args = [str(SUBMISSIONS / "writes_nothing.py"), "--root", str(tiny_track), "--out", str(out)]
    result, _ = _check(tmp_path, *args)
    assert result.returncode == 1, result.stderr
    assert "would not be scored: run: invalid" in " ".join(result.stderr.split())
    assert "checkpoint valid │ FAIL" in result.stdout or "FAIL" in result.stdout
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "invalid" and run["scored"] is False


def test_pickle_weights_would_be_disqualified_naming_the_rule(tiny_track: Path, tmp_path: Path):
    args = [str(SUBMISSIONS / "writes_bin.py"), "--root", str(tiny_track), "--json"]
    result, _ = _check(tmp_path, *args, "--out", str(tmp_path / "out"))
    assert result.returncode == 1, result.stderr
    verdict = json.loads(result.stdout)
    assert verdict["scored"] is False and verdict["reason"].startswith("run: invalid")
    (valid,) = [c for c in verdict["checks"] if c["name"] == "checkpoint valid"]
    assert valid["passed"] is False and "pickle-file" in valid["detail"]
    assert "pytorch_model.bin" in valid["detail"]


def test_a_well_behaved_submission_would_be_scored_and_mmlu_is_checked(
    tiny_track: Path, tmp_path: Path
):
    out = tmp_path / "out"
    args = [str(SUBMISSIONS / "well_behaved.py"), "--root", str(tiny_track), "--out", str(out)]
    result, _ = _check(tmp_path, *args, "--json")
    assert result.returncode == 0, result.stderr
    verdict = json.loads(result.stdout)
    assert verdict["scored"] is True and verdict["reason"] is None
    names = [c["name"] for c in verdict["checks"]]
    assert names == [
        "parses",
        "defines unlearn()",
        "imports installed",
        "run",
        "time",
        "checkpoint valid",
        "MMLU",
        "score",
    ]
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "ok" and run["scores"]["final_score"] is not None
    # isolated as the organizers' run where bubblewrap works here, else not (with a notice)
    assert run["isolation"]["mode"] == local_isolation()[0]

    # the same submission under a threshold its MMLU does not reach: not scored
    strict = tmp_path / "strict"
    shutil.copytree(tiny_track, strict, ignore=shutil.ignore_patterns("target_scores"))
    build = json.loads((strict / "build.json").read_text())
    (strict / "build.json").write_text(json.dumps({**build, "mmlu_threshold": 0.99}))
    args = [str(SUBMISSIONS / "well_behaved.py"), "--root", str(strict)]
    result, _ = _check(tmp_path, *args, "--out", str(tmp_path / "out2"))
    assert result.returncode == 1, result.stderr
    *notices, line = [line for line in result.stderr.splitlines() if line.strip()]
    _, why_not = local_isolation()  # a notice only where bubblewrap cannot isolate here
    assert [n.startswith(f"notice: {why_not}") for n in notices] == ([True] if why_not else [])
    assert line.startswith("would not be scored: MMLU: 0.1667")
    assert "(threshold 0.9900)" in result.stdout


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["nowhere.py"], ["nowhere.py: not a .py file"]),
        ([str(SUBMISSIONS / "well_behaved.py"), "--track", "9B"], ["'9B'"]),
        ([str(SUBMISSIONS / "well_behaved.py"), "--root", "."], ["build.json not found"]),
        ([str(SUBMISSIONS / "well_behaved.py"), "--track", "1B"], ["no target model"]),
        ([], ["Missing argument"]),
    ],
)
def test_bad_input_is_one_line_exit_2_without_torch(
    args: list[str], needles: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(tmp_path)
    result, heavy = _check(tmp_path, *args)
    assert_one_line_error(result, *needles)
    assert heavy == []
