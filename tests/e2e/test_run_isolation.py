"""``lume-score run`` end to end: what the submission can reach, and what it cannot.

The user it runs as, what is in its view, its network, its /tmp, its environment, its
read-only inputs, its neighbour and its output directory, each probed by a hostile
submission run for real on the tiny track (two runs at once where it takes two).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import stat
import tempfile
import time
from pathlib import Path

import needs
import pytest

from scorer.sandbox.freeze import verify
from scorer.sandbox.identity import UID_BASE, UID_COUNT

from paths import REPO, SUBMISSIONS
from runs import checkpoint, start_run, with_placeholder

PLACEHOLDER = "/placeholder/replaced/by/the/test"


@needs.on("root")  # the isolation asserted here needs a root runner
def test_isolation_obtained_as_root_is_recorded_and_the_outputs_are_closed(
    run, tmp_path: Path, tiny_track: Path
):
    record = run("well_behaved")
    isolation = record["isolation"]
    assert isolation["mode"] == "bwrap" and isolation["notes"] == []
    uid = isolation["run_uid"]
    assert UID_BASE <= uid < UID_BASE + UID_COUNT and uid != 65534
    assert isolation["user"] == {"name": "lume", "uid": uid, "gid": uid}
    assert isolation["groups"] == [] and isolation["lost"] == []
    assert all(names == [] for names in isolation["capabilities"].values())
    assert isolation["no_new_privs"] is True and isolation["seccomp"]["mode"] == "filter"
    assert isolation["pid_in_sandbox"] < 10 and isolation["hostname"] == "lume"
    separate = {name for name, state in isolation["namespaces"].items() if state == "separate"}
    assert {"pid", "net", "ipc", "uts", "mnt", "cgroup"} <= separate
    assert isolation["child_in_cgroup"] is True
    assert isolation["uid_processes_left"] == {"first": [], "more": 0}
    out = tmp_path / "out"
    for path in [out, *out.rglob("*")]:
        st = path.stat()
        assert st.st_uid == 0 and stat.S_IMODE(st.st_mode) == (0o700 if path.is_dir() else 0o600)
    reference = (tiny_track / "model" / "model.safetensors").read_bytes()
    assert record["checkpoint_sha256"]["model.safetensors"] == hashlib.sha256(reference).hexdigest()


@needs.on("root")  # only a root runner gives each run its own user
def test_the_view_is_a_whitelist(run, tmp_path: Path, tiny_track: Path):
    """Held-out answers in the track root, an earlier run's outputs, the judge's files in
    /tmp, other users' homes, other processes, the network: none is in view."""
    earlier = tmp_path / "earlier"
    earlier.mkdir()
    (earlier / "run.json").write_text('{"scores": "EARLIER-RESULTS"}')
    judge = Path(tempfile.mkdtemp(prefix="lume-judge-", dir="/tmp"))
    (judge / "secret.txt").write_text("THE-HELD-OUT-ANSWERS")
    targets = [
        str(tiny_track / "target_scores" / "items.jsonl"),
        str(tiny_track / "build.json"),
        str(earlier / "run.json"),
        str(judge / "secret.txt"),
        "/etc/shadow",
        "/proc/1/environ",
    ]
    listener = socket.create_server(("127.0.0.1", 0))  # the host's loopback, not the run's
    listener.setblocking(False)
    try:
        source = with_placeholder("probes_view", tmp_path, "TARGETS = []", f"TARGETS = {targets}")
        port = listener.getsockname()[1]
        source.write_text(source.read_text().replace("HOST_PORT = 0", f"HOST_PORT = {port}"))
        run("probes_view", source=source)
        with pytest.raises(BlockingIOError):
            listener.accept()  # nothing reached it
    finally:
        listener.close()
        shutil.rmtree(judge)
    attempts = json.loads((checkpoint(tmp_path) / "attempts.json").read_text())
    for target in targets:
        assert attempts[target]["ok"] is False, target
    assert "THE-HELD-OUT-ANSWERS" not in (tmp_path / "out" / "submission.log").read_text()
    # /tmp is the run's own tmpfs: empty but for the mount point of the kit's packages when
    # the repository itself lies under /tmp (a clone there is imported from its own path)
    kit = [REPO.relative_to("/tmp").parts[0]] if REPO.is_relative_to("/tmp") else []
    assert attempts["list /tmp"]["value"] == kit and attempts["list /etc"]["value"] == [
        "group", "ld.so.cache", "passwd"
    ]  # fmt: skip
    assert attempts["list /lume"]["value"] == [
        "cwd", "forget", "home", "model", "outbox", "retain", "submission.py"
    ]  # fmt: skip
    assert attempts["list /home"]["error"] == "FileNotFoundError"
    assert attempts["list /proc/1/root"]["ok"] is False  # the sandbox's init is root's
    assert not {"home", "mnt", "opt", "srv", "boot"} & set(attempts["list /"]["value"])
    assert max(attempts["pids"]) < 20  # its own PID namespace: no other process in view
    assert attempts["network"] == {"ok": False, "error": "ConnectionRefusedError"}  # own lo
    assert attempts["interfaces"]["value"] == ["lo"]


@needs.on("root")  # only a root runner gives each run its own user
def test_no_state_is_kept_between_runs_in_world_writable_places(run, tmp_path: Path):
    first = run("keeps_state")
    state = json.loads((checkpoint(tmp_path) / "state.json").read_text())
    assert set(state["written"].values()) == {True}  # each place is writable, and private
    shutil.rmtree(tmp_path / "out")
    second = run("keeps_state")
    state = json.loads((checkpoint(tmp_path) / "state.json").read_text())
    assert set(state["found"].values()) == {None}
    for place in ("/tmp", "/var/tmp", "/dev/shm", "/run/lock"):
        assert not (Path(place) / "lume-state-between-runs").exists()
    assert first["isolation"]["run_uid"] is not None and second["status"] == "invalid"


@pytest.mark.slow  # ~9 s: a second run in another interpreter
@needs.on("root")  # only a root runner gives each run its own user
def test_two_runs_at_once_cannot_see_signal_or_write_each_other(
    run, tmp_path: Path, tiny_track: Path, sets
):
    victim_out = tmp_path / "victim"
    victim = start_run(
        SUBMISSIONS / "sleeps_then_saves.py", victim_out, tiny_track / "model", sets,
        time_limit=30, grace=1.0,
    )  # fmt: skip
    try:
        time.sleep(0.5)  # the victim is running
        attacker = run("attacks_neighbour")
        output, _ = victim.communicate(timeout=120)
    finally:
        victim.kill()
    report = json.loads((checkpoint(tmp_path) / "neighbour.json").read_text())
    assert report["others"] == [] and report["killed"] == [] and report["wrote"] == []
    victim_record = json.loads((victim_out / "run.json").read_text())
    assert victim_record["status"] == "ok", victim_record["reason"]
    assert not (victim_out / "checkpoint" / "evil.txt").exists()
    assert victim_record["isolation"]["run_uid"] != attacker["isolation"]["run_uid"]
    assert json.loads(output.splitlines()[-1])["status"] == "ok"


@needs.on("root")  # the checkpoint is frozen by a root runner
def test_a_checkpoint_written_after_the_run_is_not_what_is_judged(run, tmp_path: Path, tiny_track):
    record = run("writes_after_validation")
    time.sleep(2.0)  # past the moment the daemon would have written its NaNs
    reference = (tiny_track / "model" / "model.safetensors").read_bytes()
    frozen = (checkpoint(tmp_path) / "model.safetensors").read_bytes()
    assert record["status"] == "ok" and frozen == reference
    assert record["checkpoint_sha256"]["model.safetensors"] == hashlib.sha256(reference).hexdigest()
    assert verify(checkpoint(tmp_path), record["checkpoint_sha256"]) == []


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
    assert dumped["home"] == env["HOME"] == "/lume/home" != os.environ["HOME"]
    assert dumped["cwd"] == "/lume/cwd" and env["TMPDIR"] == "/tmp"
    assert dumped["arguments"] == [
        "/lume/model", "/lume/outbox/checkpoint", "/lume/forget", "/lume/retain"
    ]  # fmt: skip
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
