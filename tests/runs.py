"""What the tests of ``lume-score run`` share: finding a run's processes in /proc on their own
(independently of the scorer's scans), killing strays, where a run left its checkpoint.

The fixtures ``run`` and ``sets`` that use them are in ``tests/conftest.py``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

from scorer.sandbox.isolation import RUN_ID_VARIABLE

from paths import SUBMISSIONS

ROOT = os.geteuid() == 0


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` runs (zombies do not)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            state = handle.read().rsplit(b")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in (b"Z", b"X")


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
    """Never leave a stray process of a failed test on the machine."""
    until = time.time() + seconds
    while time.time() < until:
        pids = marked_processes(run_id, looks=1)
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


def checkpoint(tmp_path: Path) -> Path:
    """Where the ``run`` fixture's run left its checkpoint."""
    return tmp_path / "out" / "checkpoint"


def with_placeholder(name: str, tmp_path: Path, old: str, new: str) -> Path:
    """A copy of submission ``name`` in ``tmp_path`` with ``old`` replaced by ``new``."""
    source = tmp_path / f"{name}.py"
    source.write_text((SUBMISSIONS / f"{name}.py").read_text().replace(old, new))
    return source


RUN_IN_ANOTHER_PROCESS = """
import json, sys
from pathlib import Path
from scorer.sandbox.options import RunOptions
from scorer.sandbox.runner import run_submission
args = json.loads(sys.argv[1])
paths = {k: Path(v) for k, v in args.pop("paths").items()}
record = run_submission(RunOptions(**paths, **args))
print(json.dumps({"status": record["status"], "run_id": record["run_id"]}))
"""


def start_run(submission: Path, out: Path, model: Path, sets: tuple[Path, Path], **options):
    """A run in another interpreter (two runs at the same time, as on a judge's node):
    the ``Popen``; its stdout's last line is the status and run id."""
    import json
    import subprocess
    import sys

    paths = {"submission": submission, "out": out, "model": model}
    paths |= {"forget": sets[0], "retain": sets[1]}
    args = {"paths": {k: str(v) for k, v in paths.items()}, **options}
    return subprocess.Popen(
        [sys.executable, "-c", RUN_IN_ANOTHER_PROCESS, json.dumps(args)],
        stdout=subprocess.PIPE,
        text=True,
    )
