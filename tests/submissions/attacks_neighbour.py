"""Hunts another run going on at the same time: through /proc (its LUME_RUN_ID and cwd),
then tries to read its submission, write into its output and kill its processes."""

import json
import os
import signal
import time
from pathlib import Path


def _environ(pid: str) -> dict:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return {}
    items = raw.decode(errors="replace").split("\0")
    return dict(item.split("=", 1) for item in items if "=" in item)


def unlearn(model, output, forget, retain):
    me = os.environ.get("LUME_RUN_ID")
    report = {"others": [], "read": [], "wrote": [], "killed": []}
    until = time.time() + 1.5
    while time.time() < until:
        for pid in (p for p in os.listdir("/proc") if p.isdigit()):
            run_id = _environ(pid).get("LUME_RUN_ID")
            if run_id and run_id != me and pid not in report["others"]:
                report["others"].append(pid)
                try:
                    parent = Path(f"/proc/{pid}/cwd").resolve().parent
                    report["read"].append((parent / "submission.py").read_text()[:50])
                    (parent / "outbox" / "checkpoint" / "evil.txt").write_text("x")
                    report["wrote"].append(pid)
                except OSError:
                    pass
                try:
                    os.kill(int(pid), signal.SIGKILL)
                    report["killed"].append(pid)
                except OSError:
                    pass
        time.sleep(0.1)
    try:
        os.kill(-1, signal.SIGKILL)  # every process it may signal (never itself)
        report["kill -1"] = "sent"
    except OSError as err:
        report["kill -1"] = type(err).__name__
    (Path(output) / "neighbour.json").write_text(json.dumps(report))
