"""``lume-score run`` on the command line: options, the track, exit codes, ``--json``.

Each test invokes the Typer app in-process (so ``monkeypatch`` reaches the runner's
environment) and runs a submission of ``tests/submissions/`` for real on the tiny track.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from paths import SUBMISSIONS
from runs import marked_processes


def _cli(args: list[str]):
    from typer.testing import CliRunner

    from scorer.cli.app import app

    return CliRunner().invoke(app, ["run", *[str(a) for a in args]])


def test_cli_missing_submission_is_one_line_exit_2_and_writes_nothing(tiny_track, sets, tmp_path):
    out = tmp_path / "out"
    result = _cli(
        [tmp_path / "nope.py", "--model", tiny_track / "model", "--forget", sets[0],
         "--retain", sets[1], "--time-limit", 10, "--out", out]
    )  # fmt: skip
    assert result.exit_code == 2
    assert "no such file" in result.output and len(result.output.strip().splitlines()) == 1
    assert not out.exists()


def test_cli_track_fills_the_inputs_and_json_is_run_json(tiny_track: Path, tmp_path: Path):
    out = tmp_path / "out"
    result = _cli([SUBMISSIONS / "well_behaved.py", "--track", "mini", "--root", tiny_track,
                   "--out", out, "--json", "--grace", 1])  # fmt: skip
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record == json.loads((out / "run.json").read_text())
    assert record["status"] == "ok" and record["track"] == "mini"
    assert record["time_limit_seconds"] == 300  # the mini track's
    assert "forget set files: ['forget.jsonl', 'forget.parquet']" in record["log"]["tail"]
    assert marked_processes(record["run_id"]) == []
    explicit = _cli([SUBMISSIONS / "well_behaved.py", "--track", "mini", "--root", tiny_track,
                     "--out", tmp_path / "out2", "--json", "--time-limit", 42])  # fmt: skip
    assert json.loads(explicit.stdout)["time_limit_seconds"] == 42  # explicit options win


@pytest.mark.slow
def test_cli_exit_codes_follow_the_status(tiny_track: Path, sets, tmp_path: Path):
    common = ["--model", tiny_track / "model", "--forget", sets[0], "--retain", sets[1],
              "--grace", 0.5]  # fmt: skip
    failed = _cli([SUBMISSIONS / "raises.py", "--out", tmp_path / "a", "--time-limit", 30, *common])
    assert failed.exit_code == 1 and "FAILED" in failed.output
    kept = _cli([SUBMISSIONS / "killed_mid_save.py", "--out", tmp_path / "b", "--time-limit", 2,
                 *common])  # fmt: skip
    assert kept.exit_code == 0, kept.output  # timeout, but a valid checkpoint to score
    assert json.loads((tmp_path / "b" / "run.json").read_text())["status"] == "timeout"
    discarded = _cli([SUBMISSIONS / "killed_mid_save.py", "--out", tmp_path / "c",
                      "--time-limit", 2, "--on-timeout", "discard", *common])  # fmt: skip
    assert discarded.exit_code == 1


@pytest.mark.slow
def test_evaluate_merges_the_scores_into_run_json(tiny_track: Path, tmp_path: Path):
    out = tmp_path / "out"
    result = _cli([SUBMISSIONS / "well_behaved.py", "--track", "mini", "--root", tiny_track,
                   "--out", out, "--evaluate", "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    written = json.loads((out / "evaluation" / "scores.json").read_text())
    assert record["scores"] == written
    assert (out / "evaluation" / "items.jsonl").is_file()
    # the copy of the target scores what the target scored when the track was built
    build = json.loads((tiny_track / "build.json").read_text())
    assert written["final_score"] == pytest.approx(build["target_scores"]["final_score"])
    assert written["mmlu_threshold"] == build["mmlu_threshold"]  # from the track's manifest


def test_relative_paths_work(tiny_track: Path, sets, tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copy(SUBMISSIONS / "well_behaved.py", tmp_path / "mine.py")
    shutil.copytree(sets[0], tmp_path / "f")
    shutil.copytree(sets[1], tmp_path / "r")
    result = _cli(["mine.py", "--model", tiny_track / "model", "--forget", "f", "--retain", "r",
                   "--time-limit", 30, "--out", "out", "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["status"] == "ok"
    assert (tmp_path / "out" / "checkpoint" / "model.safetensors").is_file()


def test_pass_env_passes_the_named_variables_only_and_never_a_secret(
    tiny_track: Path, sets, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("LUME_TEST_SETTING", "passed-on")
    monkeypatch.setenv("LUME_TEST_OTHER", "not-named")
    monkeypatch.setenv("HF_TOKEN", "hf_secret_value_1")
    out = tmp_path / "out"
    common = ["--model", tiny_track / "model", "--forget", sets[0], "--retain", sets[1],
              "--time-limit", 30, "--grace", 0.5]  # fmt: skip
    result = _cli([SUBMISSIONS / "dumps_env.py", "--out", out, "--json",
                   "--pass-env", "LUME_TEST_SETTING", *common])  # fmt: skip
    assert result.exit_code == 1, result.output  # env.json is no checkpoint: invalid
    record = json.loads(result.stdout)
    env = json.loads((out / "checkpoint" / "env.json").read_text())["env"]
    assert env["LUME_TEST_SETTING"] == "passed-on"  # named: passed on
    assert "LUME_TEST_OTHER" not in env  # not named, not allow-listed: scrubbed
    assert "HF_TOKEN" not in env  # a secret stays scrubbed
    assert "hf_secret_value_1" not in json.dumps(env)
    assert "LUME_TEST_SETTING" in record["isolation"]["environment"]
    assert "LUME_TEST_OTHER" not in record["isolation"]["environment"]
    # asking for a secret by name is bad input: one line, exit 2, nothing written
    refused = _cli([SUBMISSIONS / "dumps_env.py", "--out", tmp_path / "refused",
                    "--pass-env", "HF_TOKEN", *common])  # fmt: skip
    assert refused.exit_code == 2
    assert "--pass-env HF_TOKEN: looks like a secret" in refused.output
    assert not (tmp_path / "refused").exists()
