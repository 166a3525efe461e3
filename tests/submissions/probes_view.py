"""Looks for what a submission must not see: the judge's files named by the test (held-out
answers, an earlier run's outputs, the track root), other users' homes, the host's /tmp,
other processes, the network (a listener the test holds on the host's loopback, and the
interfaces it has); writes what happened to attempts.json."""

import json
import os
import socket
from pathlib import Path

TARGETS = []  # replaced by the test: paths of the judge's files
HOST_PORT = 0  # replaced by the test: a port listening on the host's 127.0.0.1


def _attempt(action):
    try:
        return {"ok": True, "value": action()}
    except Exception as err:  # noqa: BLE001
        return {"ok": False, "error": type(err).__name__}


def unlearn(model, output, forget, retain):
    attempts = {path: _attempt(lambda p=path: Path(p).read_text()[:100]) for path in TARGETS}
    for directory in ("/", "/home", "/root", "/tmp", "/etc", "/lume", "/proc/1/root"):
        attempts[f"list {directory}"] = _attempt(lambda d=directory: sorted(os.listdir(d)))
    attempts["pids"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
    attempts["network"] = _attempt(
        lambda: socket.create_connection(("127.0.0.1", HOST_PORT), timeout=2).close()
    )
    attempts["interfaces"] = _attempt(lambda: sorted(name for _, name in socket.if_nameindex()))
    attempts["kill -1"] = _attempt(lambda: os.kill(-1, 0))  # whom could it signal at all?
    (Path(output) / "attempts.json").write_text(json.dumps(attempts))
