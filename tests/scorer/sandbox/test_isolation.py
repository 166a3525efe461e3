"""What the child gets: the scrubbed environment and, in the child, its own user."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import needs
import pytest

from scorer.sandbox.isolation import RUN_ID_VARIABLE, become, is_secret, scrubbed_environment

ROOT = os.geteuid() == 0


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


BECOME_PROBE = """
import json, sys
from scorer.sandbox.isolation import become
print(json.dumps(become({"name": "lume", "uid": 2100000999, "gid": 2100000999})))
"""


@needs.on("root")  # only root can change its user
def test_become_leaves_no_group_no_capability_and_says_so():
    result = subprocess.run(
        [sys.executable, "-c", BECOME_PROBE], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["user"] == {"name": "lume", "uid": 2100000999, "gid": 2100000999}
    assert report["groups"] == [] and set(report["capabilities"].values()) == {"0"}
    assert report["namespaces"]["net"].startswith("net:[")  # read back, not assumed


def test_become_without_a_user_only_reports():
    previous = os.umask(0o022)
    try:
        report = become(None)
        assert os.umask(0o022) == 0o077  # files the submission writes are its own
    finally:
        os.umask(previous)
    assert report["user"]["uid"] == os.getuid() and report["user"]["name"] is None
    assert report["seccomp"]["mode"] in ("off", "filter", "strict")
    assert report["capabilities"]["inheritable"] == "0"  # emptied whatever it was
