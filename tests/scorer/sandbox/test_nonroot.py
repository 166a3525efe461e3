"""The runner as a user without privileges: bubblewrap then makes a user namespace
(``--unshare-user``), and the submission still runs with no capability, no_new_privs,
seccomp and its own pid, network and mount namespaces; the validator's process too."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import needs

from paths import SUBMISSIONS

NOBODY = 65534
RUN = """
import json, sys
from pathlib import Path
from scorer.sandbox.options import RunOptions
from scorer.sandbox.runner import run_submission
base = Path(sys.argv[1])
record = run_submission(RunOptions(
    submission=base / "well_behaved.py", model=base / "model", out=base / "out",
    forget=base / "forget", retain=base / "retain", time_limit=60, grace=1.0,
))
print(json.dumps({"status": record["status"]}))
"""


def closed_ancestor(path: Path) -> Path | None:
    """The first directory above ``path`` that other users may not traverse (a pyenv
    under ``/root``), None when there is none."""
    for parent in reversed(path.parents):
        if not os.stat(parent).st_mode & 0o001:
            return parent
    return None


def as_nobody(argv: list[str]) -> list[str]:
    """``argv`` run as uid/gid 65534, in a private mount namespace where the directory
    that hides the interpreter from other users is opened (the rest of the machine as is)."""
    drop = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
            "--inh-caps=-all", *argv]  # fmt: skip
    interpreter = Path(os.path.realpath(sys.executable))
    closed = closed_ancestor(interpreter)
    if closed is None:
        return drop
    inside = interpreter.relative_to(closed).parts[0]  # the one entry to keep
    script = (
        'set -e; keep=$(mktemp -d); mount --bind "$1/$2" "$keep"; '
        'mount -t tmpfs -o mode=0755 tmpfs "$1"; mkdir "$1/$2"; mount --bind "$keep" "$1/$2"; '
        'shift 2; exec "$@"'
    )
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh",
            str(closed), inside, *drop]  # fmt: skip


@needs.on("root")  # sets up a non-root user: needs root
def test_a_non_root_runner_isolates_with_a_user_namespace(tiny_track: Path, sets):
    absent = [tool for tool in ("bwrap", "setpriv", "unshare") if shutil.which(tool) is None]
    needs.that(not absent, f"not installed: {', '.join(absent)}")
    base = Path(tempfile.mkdtemp(prefix="lume-nonroot-"))
    try:
        os.chmod(base, 0o755)
        shutil.copytree(tiny_track / "model", base / "model")
        shutil.copytree(sets[0], base / "forget")
        shutil.copytree(sets[1], base / "retain")
        shutil.copy(SUBMISSIONS / "well_behaved.py", base)
        for path in [base, *base.rglob("*")]:
            os.chown(path, NOBODY, NOBODY)
        done = subprocess.run(
            as_nobody([sys.executable, "-I", "-c", RUN, str(base)]),
            capture_output=True, text=True, timeout=300, cwd=base,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        record = json.loads((base / "out" / "run.json").read_text())
    finally:
        shutil.rmtree(base, ignore_errors=True)
    assert record["status"] == "ok", record["reason"]
    isolation = record["isolation"]
    assert isolation["runner_uid"] == NOBODY and isolation["run_uid"] is None
    assert isolation["user"]["uid"] == NOBODY
    separate = {name for name, state in isolation["namespaces"].items() if state == "separate"}
    assert separate >= {"pid", "net", "ipc", "uts", "mnt", "cgroup", "user"}
    # nobody may not create cgroups here: asked for, not obtained, and said so
    assert isolation["lost"] == ["cgroup: the submission's process was not in the run's cgroup"]
    assert isolation["network"]["cut"] is True
    assert isolation["capabilities"] == dict.fromkeys(
        ("inheritable", "permitted", "effective", "bounding", "ambient"), []
    )
    assert isolation["no_new_privs"] is True and isolation["seccomp"]["mode"] == "filter"
    assert isolation["pid_in_sandbox"] < 10
    assert any("the runner is not root" in note for note in isolation["notes"])
    process = record["validation"]["process"]
    assert process["exit_code"] == 0 and record["validation"]["ok"]
