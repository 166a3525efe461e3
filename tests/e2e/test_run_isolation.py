"""``lume-score run`` end to end: what the submission can reach, and what it cannot.

The user it runs as, its network, its /tmp, its environment, its read-only inputs and
its output directory, each probed by a hostile submission run for real on the tiny track.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from runs import ROOT, checkpoint, with_placeholder

PLACEHOLDER = "/placeholder/replaced/by/the/test"


@pytest.mark.skipif(not ROOT, reason="the isolation asserted here needs a root runner")
def test_isolation_obtained_as_root_is_recorded(run):
    isolation = run("well_behaved")["isolation"]
    assert isolation["user"]["name"] == "nobody" and isolation["user"]["uid"] != 0
    assert isolation["no_new_privs"] is True
    assert isolation["network"]["cut"] is True
    assert "/tmp" in isolation["mounts"]["covered"]
    assert isolation["child_in_cgroup"] is True
    assert isolation["notes"] == []


@pytest.mark.skipif(not ROOT, reason="only a root runner can drop to another user")
@pytest.mark.parametrize("private_tmp", [True, False], ids=["private-tmp", "uid-only"])
def test_judge_file_outside_the_given_dirs_is_out_of_reach(run, tmp_path: Path, private_tmp: bool):
    """The judge's 0600 file in a world-traversable /tmp directory: the private /tmp
    hides it (FileNotFoundError); without it, the uid drop stops it (PermissionError)."""
    judge = Path(tempfile.mkdtemp(prefix="lume-judge-", dir="/tmp"))
    try:
        judge.chmod(0o755)
        secret = judge / "held_out_answers.txt"
        secret.write_text("THE-HELD-OUT-ANSWERS")
        secret.chmod(0o600)
        source = with_placeholder("reads_judge_secret", tmp_path, PLACEHOLDER, str(secret))
        options = {} if private_tmp else {"private_tmp": False}
        record = run("reads_judge_secret", source=source, **options)
    finally:
        shutil.rmtree(judge)
    attempts = json.loads((checkpoint(tmp_path) / "attempts.json").read_text())
    expected = "FileNotFoundError" if private_tmp else "PermissionError"
    assert attempts["judge_secret"] == {**attempts["judge_secret"], "ok": False, "error": expected}
    assert "THE-HELD-OUT-ANSWERS" not in (tmp_path / "out" / "submission.log").read_text()
    assert attempts["root_home"]["ok"] is False or attempts["root_home"]["value"] == [".pyenv"]
    assert attempts["network"]["ok"] is False  # own network namespace: no route out
    assert record["isolation"]["user"]["name"] == "nobody"


def test_environment_is_scrubbed(run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    secrets = {
        "HF_TOKEN": "hf_secret_value_1",
        "AWS_SECRET_ACCESS_KEY": "aws_secret_value_2",
        "GITHUB_TOKEN": "gh_secret_value_3",
        "MY_SERVICE_API_KEY": "key_secret_value_4",
        "HTTPS_PROXY": "http://user:pw_secret_value_5@proxy:3128",
        "DATABASE_PASSWORD": "db_secret_value_6",
        "OMP_API_TOKEN": "omp_secret_value_7",  # allow-listed prefix, still a secret
    }
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1,2,3")
    before = time.time()
    record = run("dumps_env", time_limit=30)
    dumped = json.loads((checkpoint(tmp_path) / "env.json").read_text())
    env = dumped["env"]
    text = json.dumps(dumped)
    for name, value in secrets.items():
        assert name not in env and value not in text
    assert env["HF_HUB_OFFLINE"] == env["TRANSFORMERS_OFFLINE"] == "1"
    assert env["HF_DATASETS_OFFLINE"] == "1"
    assert env["CUDA_VISIBLE_DEVICES"] == ""  # no GPU granted
    assert env["OMP_NUM_THREADS"] == "1"  # harmless settings pass
    assert before + 29 < float(env["LUME_DEADLINE"]) < time.time() + 31
    assert dumped["home"] == env["HOME"] != os.environ["HOME"]
    assert ".lume-work-" in env["HOME"] and ".lume-work-" in dumped["cwd"]
    assert dumped["cwd"] != env["HOME"]
    assert all(".lume-work-" in arg for arg in dumped["arguments"])
    assert sorted(env) == record["isolation"]["environment"]


def test_given_dirs_are_read_only(run, tmp_path: Path, sets: tuple[Path, Path]):
    before = {p.name: p.read_bytes() for p in sets[0].iterdir()}
    record = run("writes_forget")
    attempts = json.loads((checkpoint(tmp_path) / "attempts.json").read_text())
    assert set(attempts.values()) <= {"PermissionError", "OSError"}, attempts
    assert {p.name: p.read_bytes() for p in sets[0].iterdir()} == before
    assert record["status"] == "invalid"  # attempts.json is no checkpoint file


def test_output_swapped_for_a_symlink_is_not_followed(run, tmp_path: Path):
    judge = tmp_path / "judge"
    judge.mkdir()
    (judge / "config.json").write_text("{}")
    (judge / "config.json").chmod(0o644)
    source = with_placeholder("swaps_output_for_symlink", tmp_path, PLACEHOLDER, str(judge))
    record = run("swaps_output_for_symlink", source=source)
    assert record["status"] == "invalid"
    assert "symlink" in {v["rule"] for v in record["validation"]["violations"]}
    assert (judge / "config.json").stat().st_mode & 0o777 == 0o644  # not chmod-ed
    assert checkpoint(tmp_path).is_dir() and not checkpoint(tmp_path).is_symlink()
