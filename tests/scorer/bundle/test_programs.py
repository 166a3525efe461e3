"""The bundle's programs run as the compute worker runs them, on the tiny track: what the
ingestion program refuses, and the scoring program's refusals (a run not to be scored, no
run at all, another kit version). The full round trip (what ingestion leaves, the scores,
a checkpoint changed after it was frozen) is ``test_round_trip.py`` (slow)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from paths import SUBMISSIONS


def _submission(tmp_path: Path, *names: str, extra: dict | None = None) -> Path:
    folder = tmp_path / "submission"
    folder.mkdir()
    for name in names:
        shutil.copyfile(SUBMISSIONS / name, folder / name)
    for name, text in (extra or {}).items():
        (folder / name).write_text(text)
    return folder


def _one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.mark.parametrize(
    ("names", "extra", "needle"),
    [
        (["well_behaved.py"], {"metadata.yaml": "command: python3 evil.py\n"}, "metadata.yaml"),
        (["well_behaved.py", "raises.py"], {}, "exactly one .py file"),
        ([], {"README.md": "no code"}, "found none"),
    ],
)
def test_ingestion_refuses_what_is_not_one_python_file(
    names, extra, needle, tiny_bundle: Path, codabench, tmp_path: Path
):
    submission = _submission(tmp_path, *names, extra=extra)
    app = codabench.prediction_app(tiny_bundle, submission, tmp_path / "app")
    result = codabench.run_program(tiny_bundle / "ingestion_program", app)
    assert result.returncode == 2
    assert needle in _one_line(result.stderr)
    assert list((app / "output").iterdir()) == []


def test_a_run_that_failed_is_not_scored(tiny_bundle: Path, codabench, tmp_path: Path):
    submission = _submission(tmp_path, "raises.py")
    app = codabench.prediction_app(tiny_bundle, submission, tmp_path / "app")
    ingestion = codabench.run_program(tiny_bundle / "ingestion_program", app)
    assert ingestion.returncode == 1
    assert "not scored: failed" in ingestion.stderr
    record = json.loads((app / "output" / "run" / "run.json").read_text())
    assert record["status"] == "failed" and record["scored"] is False
    scoring_app = codabench.scoring_app(tiny_bundle, app / "output", tmp_path / "scoring")
    scoring = codabench.run_program(tiny_bundle / "scoring_program", scoring_app)
    assert scoring.returncode == 1
    assert "not scored: failed" in _one_line(scoring.stderr)
    assert list((scoring_app / "output").iterdir()) == []


def test_scoring_without_a_run_is_a_one_line_error(tiny_bundle: Path, codabench, tmp_path: Path):
    empty = tmp_path / "empty"
    empty.mkdir()
    app = codabench.scoring_app(tiny_bundle, empty, tmp_path / "scoring")
    result = codabench.run_program(tiny_bundle / "scoring_program", app)
    assert result.returncode == 2
    assert "the ingestion program did not finish" in _one_line(result.stderr)


def test_the_programs_refuse_another_kit_version(tiny_bundle: Path, codabench, tmp_path: Path):
    program = tmp_path / "scoring_program"
    shutil.copytree(tiny_bundle / "scoring_program", program)
    launcher = program / "scoring.py"
    launcher.write_text(re.sub(r'KIT = "[^"]*"', 'KIT = "9.9.9"', launcher.read_text(), count=1))
    app = tmp_path / "app"
    app.mkdir()
    result = codabench.run_program(program, app)
    assert result.returncode == 2
    assert "this bundle needs lume-kit 9.9.9" in _one_line(result.stderr)
