"""The budgeted runner: one hostile submission per test, each run for real.

Every test runs ``tests/submissions/<name>.py`` through ``run_submission`` on the tiny
track and then checks that no process of the run is left alive (its environment marker
is nowhere in /proc) and that its cgroups are gone.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import tempfile
import time
from pathlib import Path

import pytest

from scorer.data.files import write_items_jsonl, write_items_parquet
from scorer.data.lume import load_lume
from scorer.errors import LumeError
from scorer.sandbox.isolation import RUN_ID_VARIABLE
from scorer.sandbox.runner import RunOptions, decide, parse_gpus, run_submission

from paths import REPO, SUBMISSIONS

ROOT = os.geteuid() == 0


@pytest.fixture(scope="session")
def sets(tiny_track: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """forget/ and retain/ in the submission layout (parquet + jsonl), train fold."""
    root = tmp_path_factory.mktemp("sets")
    lume = load_lume(tiny_track / "dataset", "train")
    for split in ("forget", "retain"):
        write_items_parquet(root / split / f"{split}.parquet", lume[split])
        write_items_jsonl(root / split / f"{split}.jsonl", lume[split])
    return root / "forget", root / "retain"


def marked_processes(run_id: str, looks: int = 10) -> list[int]:
    """Live processes carrying the run's marker; several looks, since one /proc listing
    can miss a process that keeps forking and exiting."""
    needle = f"{RUN_ID_VARIABLE}={run_id}".encode()
    found = set()
    for _ in range(looks):
        for entry in os.scandir("/proc"):
            if entry.name.isdigit() and pid_alive(int(entry.name)):
                try:
                    with open(f"/proc/{entry.name}/environ", "rb") as handle:
                        if needle in handle.read().split(b"\0"):
                            found.add(int(entry.name))
                except OSError:
                    continue
        time.sleep(0.02)
    return sorted(found)


def kill_marked(run_id: str, seconds: float = 3.0) -> None:
    until = time.time() + seconds
    while time.time() < until:
        pids = marked_processes(run_id, looks=1)
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


def pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            state = handle.read().rsplit(b")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in (b"Z", b"X")


@pytest.fixture
def run(tiny_track: Path, sets: tuple[Path, Path], tmp_path: Path):
    """Run a submission by name; assert nothing of it survives; return run.json."""

    def go(name: str, source: Path | None = None, **options) -> dict:
        options.setdefault("time_limit", 30)
        options.setdefault("grace", 1.0)
        record = run_submission(
            RunOptions(
                submission=source or SUBMISSIONS / f"{name}.py",
                model=tiny_track / "model",
                out=tmp_path / "out",
                forget=sets[0],
                retain=sets[1],
                **options,
            )
        )
        assert json.loads((tmp_path / "out" / "run.json").read_text()) == record
        left = marked_processes(record["run_id"])
        kill_marked(record["run_id"])  # never leave a stray process on the machine
        assert left == []
        assert record["survivors"] == []
        cgroups = record["isolation"]["cgroups"]
        assert cgroups["left_behind"] == []
        for directory in [cgroups["v2"], *cgroups["v1"].values()]:
            assert directory is None or not Path(directory).exists()
        assert not list((tmp_path / "out").glob(".lume-work-*"))  # work dir removed
        return record

    return go


def checkpoint(tmp_path: Path) -> Path:
    return tmp_path / "out" / "checkpoint"


def test_well_behaved_submission_ends_ok_with_its_usage_accounted(run, tmp_path: Path):
    record = run("well_behaved")
    assert record["status"] == "ok" and record["reason"] is None
    assert record["exit_code"] == 0 and record["scored"] is True
    assert record["validation"]["ok"] is True
    assert record["validation"]["tensors_checked"] > 0
    assert 0 < record["wall_seconds"] < 30
    assert 0 < record["cpu_seconds"] < record["wall_seconds"] * 4  # 2M squares: some CPU
    assert record["peak_memory_bytes"] > 1_000_000
    assert record["submission"] == "well_behaved.py"
    assert "done 2666664666667000000" in record["log"]["tail"]
    log = (tmp_path / "out" / "submission.log").read_text()
    assert "forget set files: ['forget.jsonl', 'forget.parquet']" in log
    assert record["gpu"] is None and record["scores"] is None
    files = sorted(p.name for p in checkpoint(tmp_path).iterdir())
    assert "model.safetensors" in files and "config.json" in files
    # the checkpoint is the runner's now, closed to the unprivileged user
    st = checkpoint(tmp_path).stat()
    assert st.st_uid == os.geteuid() and st.st_mode & 0o077 == 0


@pytest.mark.skipif(not ROOT, reason="the isolation asserted here needs a root runner")
def test_isolation_obtained_as_root_is_recorded(run):
    isolation = run("well_behaved")["isolation"]
    assert isolation["user"]["name"] == "nobody" and isolation["user"]["uid"] != 0
    assert isolation["no_new_privs"] is True
    assert isolation["network"]["cut"] is True
    assert "/tmp" in isolation["mounts"]["covered"]
    assert isolation["child_in_cgroup"] is True
    assert isolation["notes"] == []


def test_never_returning_submission_is_ended_within_5_s_of_the_limit(run):
    started = time.time()
    record = run("never_returns", time_limit=2.0, grace=1.0)
    assert record["status"] == "timeout" and record["ended_by"] == "timeout"
    assert record["scored"] is False  # nothing valid was left
    assert record["validation"]["ok"] is False
    assert 0 <= record["seconds_after_deadline"] < 5.0
    assert record["processes_signalled"]["SIGKILL"] >= 1  # it ignored SIGTERM
    assert 2.0 <= record["wall_seconds"] < 7.0
    assert time.time() - started < 30


@pytest.mark.parametrize("returns", [False, True], ids=["sleeps", "returns"])
def test_daemonised_grandchild_deaf_to_sigterm_is_gone_afterwards(
    run, tmp_path: Path, returns: bool
):
    source = tmp_path / "daemon_grandchild.py"
    text = (SUBMISSIONS / "daemon_grandchild.py").read_text()
    source.write_text(text.replace("RETURN = False", f"RETURN = {returns}"))
    record = run("daemon_grandchild", source=source, time_limit=3.0, grace=0.5)
    pids = [int((checkpoint(tmp_path) / n).read_text()) for n in ("daemon.pid", "daemon-child.pid")]
    assert not any(pid_alive(pid) for pid in pids)
    assert record["status"] == ("invalid" if returns else "timeout")
    assert record["processes_signalled"]["SIGKILL"] >= 2
    if returns:
        assert record["exit_code"] == 0 and record["wall_seconds"] < 3.0


def test_memory_hog_is_ended_with_status_oom(run):
    record = run("memory_hog", memory_limit_gb=0.3, time_limit=60)
    assert record["status"] == "oom" and record["scored"] is False
    assert record["memory"]["limit_bytes"] == 300_000_000
    assert record["wall_seconds"] < 30
    assert record["peak_memory_bytes"] >= 200_000_000


def test_raising_submission_fails_with_the_exception_named(run):
    record = run("raises")
    assert record["status"] == "failed" and record["scored"] is False
    assert record["reason"] == "unlearn() raised: ValueError: deliberate failure in unlearn"
    assert "Traceback" in record["log"]["tail"]


def test_submission_writing_nothing_is_invalid(run):
    record = run("writes_nothing")
    assert record["status"] == "invalid" and record["exit_code"] == 0
    assert record["scored"] is False
    assert {v["rule"] for v in record["validation"]["violations"]} == {"empty"}


def test_checkpoint_saved_before_a_stuck_second_save_is_found_and_scored(run, tmp_path: Path):
    record = run("killed_mid_save", time_limit=3.0, grace=0.5)
    assert record["status"] == "timeout"
    assert record["removed_leftovers"] == [".staging-second"]
    assert record["validation"]["ok"] is True
    assert record["scored"] is True  # the official rule: score what is there at the kill
    assert not (checkpoint(tmp_path) / ".staging-second").exists()


def test_checkpoint_left_at_a_timeout_is_discarded_under_the_strict_rule(run):
    record = run("killed_mid_save", time_limit=3.0, grace=0.5, on_timeout="discard")
    assert record["status"] == "timeout" and record["validation"]["ok"] is True
    assert record["scored"] is False


def test_pickle_in_the_checkpoint_is_invalid(run):
    record = run("writes_bin")
    assert record["status"] == "invalid" and record["scored"] is False
    assert {v["rule"] for v in record["validation"]["violations"]} == {"pickle-file"}


def test_syntax_error_fails_with_the_line_named(run):
    record = run("syntax_error")
    assert record["status"] == "failed" and record["exit_code"] == 102
    assert record["reason"].startswith("the submission could not be imported: SyntaxError")
    assert "submission.py, line 4" in record["reason"]


def test_file_without_unlearn_fails(run):
    record = run("no_unlearn")
    assert record["status"] == "failed" and record["exit_code"] == 103
    assert "defines no unlearn() function" in record["reason"]


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
        source = tmp_path / "reads_judge_secret.py"
        text = (SUBMISSIONS / "reads_judge_secret.py").read_text()
        source.write_text(text.replace("/placeholder/replaced/by/the/test", str(secret)))
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


def test_bad_input_raises_and_writes_nothing(tiny_track: Path, sets, tmp_path: Path):
    out = tmp_path / "out"

    def options(**changes) -> RunOptions:
        base = {
            "submission": SUBMISSIONS / "well_behaved.py",
            "model": tiny_track / "model",
            "out": out,
            "time_limit": 10,
            "forget": sets[0],
            "retain": sets[1],
        }
        return RunOptions(**{**base, **changes})

    bad = [
        ({"submission": tmp_path / "missing.py"}, "no such file"),
        ({"forget": tmp_path / "nowhere"}, "no such directory"),
        ({"retain": sets[0]}, "holds neither retain.parquet nor .jsonl"),
        ({"model": tmp_path}, "--model: not a usable reference"),
        ({"time_limit": 0}, "must be positive"),
        ({"on_timeout": "maybe"}, "expected score or discard"),
        ({"pass_env": ("HF_TOKEN",)}, "looks like a secret"),
    ]
    for changes, message in bad:
        with pytest.raises(LumeError, match=message):
            run_submission(options(**changes))
        assert not out.exists()
    out.mkdir()
    (out / "run.json").write_text("{}")
    with pytest.raises(LumeError, match="not an empty directory"):
        run_submission(options())


def test_gpu_list_parsing():
    assert parse_gpus("0,1") == (0, 1) and parse_gpus("") == () and parse_gpus(None) == ()
    for bad in ("a", "0,0", "-1"):
        with pytest.raises(LumeError):
            parse_gpus(bad)


def _supervision(**fields) -> dict:
    base = {"ended_by": "returned", "exit_code": 0, "events": [], "start": 0.0}
    return {**base, "deadline": 60.0, "memory": {"limit_bytes": 1}, **fields}


def test_verdicts():
    assert decide(_supervision(), True, "score") == ("ok", None, True)
    assert decide(_supervision(), False, "score")[0:3:2] == ("invalid", False)
    timeout = _supervision(ended_by="timeout", exit_code=-9)
    assert decide(timeout, True, "score")[0::2] == ("timeout", True)
    assert decide(timeout, True, "discard")[0::2] == ("timeout", False)
    assert decide(timeout, False, "score")[0::2] == ("timeout", False)
    assert decide(_supervision(ended_by="oom", exit_code=-9), True, "score")[0::2] == (
        "oom",
        False,
    )
    crashed = decide(_supervision(ended_by="exited", exit_code=-11), True, "score")
    assert crashed == ("failed", "the submission was killed by SIGSEGV", False)
    assert decide(_supervision(ended_by="exited", exit_code=3), True, "score")[1] == (
        "the submission exited with code 3"
    )


# ---------------------------------------------------------------- the command line


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


@pytest.mark.parametrize("cgroups", [True, False], ids=["cgroup", "subreaper-only"])
def test_runaway_fork_chain_is_ended_with_or_without_cgroups(run, cgroups: bool):
    record = run("runs_away", time_limit=20, grace=0.5, cgroups=cgroups)
    assert record["exit_code"] == 0  # the first process left at once...
    assert record["status"] == "invalid"  # ...with nothing saved
    assert record["processes_signalled"]["SIGKILL"] >= 1
    assert record["wall_seconds"] < 10
    assert bool(record["isolation"]["cgroups"]["v2"] or record["isolation"]["cgroups"]["v1"]) == (
        cgroups
    )


def test_output_swapped_for_a_symlink_is_not_followed(run, tmp_path: Path):
    judge = tmp_path / "judge"
    judge.mkdir()
    (judge / "config.json").write_text("{}")
    (judge / "config.json").chmod(0o644)
    source = tmp_path / "swaps_output_for_symlink.py"
    text = (SUBMISSIONS / "swaps_output_for_symlink.py").read_text()
    source.write_text(text.replace("/placeholder/replaced/by/the/test", str(judge)))
    record = run("swaps_output_for_symlink", source=source)
    assert record["status"] == "invalid"
    assert "symlink" in {v["rule"] for v in record["validation"]["violations"]}
    assert (judge / "config.json").stat().st_mode & 0o777 == 0o644  # not chmod-ed
    assert checkpoint(tmp_path).is_dir() and not checkpoint(tmp_path).is_symlink()


def test_flooded_log_is_capped_and_keeps_its_tail(run, tmp_path: Path):
    record = run("floods_log", log_max_bytes=100_000)
    log = tmp_path / "out" / "submission.log"
    assert record["log"]["truncated"] is True
    assert record["log"]["bytes"] > 2_000_000  # what it wrote
    assert log.stat().st_size < 100_000 + (1 << 20) + 100  # the cap and a 1 MiB tail
    assert log.read_text().rstrip().endswith("THE LAST LINE")
    assert "bytes of log dropped]" in log.read_text()
    assert record["log"]["tail"].rstrip().endswith("THE LAST LINE")


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


NON_ROOT_PROBE = """
import json, os, socket, sys
sys.path.insert(0, sys.argv[1])
from scorer.sandbox.isolation import isolate, plan_mounts
plan = {"namespaces": True, "user": None,
        "mounts": plan_mounts([sys.argv[1]], ["/tmp", "/var/tmp", "/dev/shm"], None, None)}
report = isolate(plan)
try:
    socket.create_connection(("1.1.1.1", 53), timeout=2).close()
    report["reached"] = True
except OSError:
    report["reached"] = False
report["tmp"] = os.listdir("/tmp")
print(json.dumps(report))
"""


@pytest.mark.skipif(
    not (ROOT and shutil.which("setpriv") and Path("/usr/bin/python3").is_file()),
    reason="needs root (to become nobody), setpriv and a world-readable /usr/bin/python3",
)
def test_a_non_root_child_still_gets_its_own_network_and_tmp():
    """The runner's isolation code (standard library only) run as an ordinary user:
    no privilege drop, but a user namespace still gives it network and mount namespaces."""
    import subprocess
    import tempfile

    repo = REPO
    with tempfile.NamedTemporaryFile(dir="/tmp", prefix="lume-judge-secret-") as secret:
        result = subprocess.run(
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
             "/usr/bin/python3", "-c", NON_ROOT_PROBE, str(repo)],
            capture_output=True, text=True, timeout=60, cwd="/",
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        report = json.loads(result.stdout)
        assert Path(secret.name).name not in report["tmp"]  # the judge's /tmp is not seen
    assert report["user"]["uid"] == 65534 and report["user"]["name"] is None
    assert report["network"]["cut"] is True and report["reached"] is False
    # a fresh /tmp: nothing in it but the way to the repository, if that lies under /tmp
    shown = {repo.relative_to("/tmp").parts[0]} if repo.is_relative_to("/tmp") else set()
    assert "/tmp" in report["mounts"]["covered"] and set(report["tmp"]) == shown


def test_mount_plan_covers_what_the_user_cannot_enter_and_shows_what_it_needs(tmp_path: Path):
    import stat as st

    from scorer.sandbox.isolation import plan_mounts, scrubbed_environment

    modes = {"/": 0o755, "/root": 0o700, "/root/env": 0o755, "/root/env/lib": 0o755}
    modes |= {"/data": 0o755, "/data/held": 0o755, "/root/env/lib/secret": 0o755}

    class Stat:
        def __init__(self, mode):
            self.st_mode, self.st_uid, self.st_gid = st.S_IFDIR | mode, 0, 0

    plan = plan_mounts(
        ["/root/env/lib", "/root/env"],
        ["/data/held", "/root/env/lib/secret"],
        uid=65534,
        gid=65534,
        stat_fn=lambda p: Stat(modes[p]),
    )
    assert [c["path"] for c in plan["cover"]] == ["/root", "/data/held"]
    assert all(c["mode"] == 0o755 for c in plan["cover"])
    assert plan["expose"] == ["/root/env"]  # the outermost needed directory only
    assert [c["path"] for c in plan["cover_after"]] == ["/root/env/lib/secret"]
    env = scrubbed_environment(
        {"PATH": "/bin", "NCCL_DEBUG": "INFO", "NCCL_API_KEY": "k", "HOME": "/root"},
        home="/w/home",
        tmpdir="/w/tmp",
        gpus=[2, 5],
        run_id="abc",
    )
    assert env["NCCL_DEBUG"] == "INFO" and "NCCL_API_KEY" not in env
    assert env["CUDA_VISIBLE_DEVICES"] == "2,5" and env["HOME"] == "/w/home"
