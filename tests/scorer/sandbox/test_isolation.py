"""What the child may see: the scrubbed environment, the mount plan, the namespaces."""

from __future__ import annotations

import json
import os
import shutil
import stat as st
import subprocess
import tempfile
from pathlib import Path

import pytest

from scorer.sandbox.isolation import (
    RUN_ID_VARIABLE,
    RunUser,
    is_secret,
    plan_isolation,
    plan_mounts,
    scrubbed_environment,
)

from paths import REPO

ROOT = os.geteuid() == 0


class _Stat:
    def __init__(self, mode: int) -> None:
        self.st_mode, self.st_uid, self.st_gid = st.S_IFDIR | mode, 0, 0


MODES = {"/": 0o755, "/root": 0o700, "/root/env": 0o755, "/root/env/lib": 0o755}
MODES |= {"/data": 0o755, "/data/held": 0o755, "/root/env/lib/secret": 0o755}


def test_mount_plan_covers_what_the_user_cannot_enter_and_shows_what_it_needs():
    plan = plan_mounts(
        ["/root/env/lib", "/root/env"],
        ["/data/held", "/root/env/lib/secret"],
        uid=65534,
        gid=65534,
        stat_fn=lambda p: _Stat(MODES[p]),
    )
    assert [c["path"] for c in plan["cover"]] == ["/root", "/data/held"]
    assert all(c["mode"] == 0o755 for c in plan["cover"])
    assert plan["expose"] == ["/root/env"]  # the outermost needed directory only
    assert [c["path"] for c in plan["cover_after"]] == ["/root/env/lib/secret"]


def test_environment_keeps_harmless_settings_sets_its_own_and_drops_secrets():
    env = scrubbed_environment(
        {"PATH": "/bin", "NCCL_DEBUG": "INFO", "NCCL_API_KEY": "k", "HOME": "/root"},
        home="/w/home",
        tmpdir="/w/tmp",
        gpus=[2, 5],
        run_id="abc",
    )
    assert env["NCCL_DEBUG"] == "INFO" and "NCCL_API_KEY" not in env
    assert env["CUDA_VISIBLE_DEVICES"] == "2,5" and env["HOME"] == "/w/home"
    assert env[RUN_ID_VARIABLE] == "abc" and env["TMPDIR"] == "/w/tmp"


def test_pass_env_adds_the_named_variables_only_and_never_a_secret():
    parent = {"PATH": "/bin", "MY_SETTING": "1", "OTHER_SETTING": "2", "HF_TOKEN": "hf_x"}
    plain = scrubbed_environment(parent, "/h", "/t", [], "abc")
    assert "MY_SETTING" not in plain and "OTHER_SETTING" not in plain
    passed = scrubbed_environment(parent, "/h", "/t", [], "abc", ("MY_SETTING", "HF_TOKEN"))
    assert passed["MY_SETTING"] == "1"
    assert "OTHER_SETTING" not in passed and "HF_TOKEN" not in passed
    assert set(passed) - set(plain) == {"MY_SETTING"}


@pytest.mark.parametrize(
    ("name", "secret"),
    [("HF_TOKEN", True), ("AWS_ACCESS_KEY_ID", True), ("MY_API_KEY", True),
     ("HTTPS_PROXY", True), ("OMP_NUM_THREADS", False), ("KEYBOARD", False),
     ("NCCL_DEBUG", False)],
)  # fmt: skip
def test_names_that_look_like_secrets(name: str, secret: bool):
    assert is_secret(name) is secret


def test_isolation_plan_names_the_user_and_carries_the_mounts():
    user = RunUser("nobody", 65534, 65534)
    plan = plan_isolation(True, user, ["/root/env"], ["/data/held"])
    assert plan["namespaces"] is True
    assert plan["user"] == {"name": "nobody", "uid": 65534, "gid": 65534}
    assert json.loads(json.dumps(plan)) == plan  # the child reads it as JSON
    assert "/data/held" in [c["path"] for c in plan["mounts"]["cover"]]
    nobody = plan_isolation(False, None, ["/root/env"], [])
    assert nobody["user"] is None and nobody["namespaces"] is False
    assert nobody["why_no_user"] == ("--user root" if ROOT else "the runner is not root")


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
