"""``lume-score run`` end to end: what crashed or fooled the judge before, each as a hostile
submission run for real on the tiny track. Every run ends with a run.json and a status."""

from __future__ import annotations

import json
import os
from pathlib import Path

import needs
import pytest

from scorer.sandbox.supervisor import POLLED_MEMORY

from paths import SUBMISSIONS
from runs import checkpoint

MIB = 1 << 20


@pytest.mark.slow  # ~8 s: 1,900 directories made, walked and removed
def test_a_tree_deeper_than_the_recursion_limit_is_refused_in_one_line(run, tmp_path: Path):
    record = run("deep_tree")
    assert record["status"] == "invalid"
    too_deep = [v for v in record["validation"]["violations"] if v["rule"] == "too-deep"]
    assert len(too_deep) == 1 and too_deep[0]["message"].endswith("deeper than 4 levels")
    assert "\n" not in too_deep[0]["message"]
    for path in [tmp_path / "out", *(tmp_path / "out").rglob("*")]:
        assert path.stat().st_uid == os.geteuid()  # nothing of the run's user was kept


def test_what_is_written_on_the_status_pipe_cannot_crash_the_supervisor(run):
    record = run("floods_status_pipe")
    assert record["status"] == "ok", record["reason"]  # the fake lines changed nothing
    assert [e["event"] for e in record["events"]["first"]] == ["started", "returned"]


@needs.on("root")  # the private tmpfs is bwrap's, run as root here
def test_memory_held_in_a_private_tmpfs_counts_without_a_memory_cgroup(run, tmp_path: Path):
    record = run("fills_shm", memory_limit_gb=0.1, cgroups=False, time_limit=30)
    written = int((checkpoint(tmp_path) / "written.txt").read_text())
    assert written <= 100_000_000  # the tmpfs is no larger than the budget
    assert record["status"] == "oom", record["reason"]
    assert record["memory"]["enforced_by"] == POLLED_MEMORY
    # counted: the poll that ended the run saw most of it (RSS + tmpfs passed 100 MB; how
    # much of the last MiBs it saw depends on when the poll fell, on a loaded machine too)
    assert written - 40 * MIB <= record["memory"]["peak_private_tmpfs_bytes"] <= written + MIB
    assert record["peak_memory_bytes"] >= 90_000_000 and record["wall_seconds"] < 15


def test_escape_sequences_and_markup_from_a_submission_reach_the_console_inert(
    tiny_track: Path, sets, tmp_path: Path
):
    from typer.testing import CliRunner

    from scorer.cli.app import app

    args = [SUBMISSIONS / "escapes_terminal.py", "--model", tiny_track / "model",
            "--forget", sets[0], "--retain", sets[1], "--time-limit", 30,
            "--out", tmp_path / "out"]  # fmt: skip
    result = CliRunner().invoke(app, ["run", *[str(a) for a in args]])
    assert result.exit_code == 1, result.output
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert "\\x1b" in result.output  # shown as an escape
    assert "[bold green]status: ok[/]" in " ".join(result.output.split())  # shown, not obeyed
    record = json.loads((tmp_path / "out" / "run.json").read_text())
    assert "\x1b[2J" in record["reason"]  # run.json keeps the submission's own words


def test_a_checkpoint_that_validated_but_broke_scoring_is_invalid_with_the_field_named(
    run, tmp_path: Path
):
    source = tmp_path / "changes_config.py"
    text = (SUBMISSIONS / "changes_config.py").read_text()
    source.write_text(text.replace("CHANGES = {}", 'CHANGES = {"return_dict": False}'))
    record = run("changes_config", source=source)
    assert record["status"] == "invalid" and record["scored"] is False
    messages = [v["message"] for v in record["validation"]["violations"]]
    assert messages == ["config.json: return_dict must be true for scoring, not false"]
