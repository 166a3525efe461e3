"""Tries to read a file of the judge outside the directories it was given, and a few
other things a submission must not reach; writes what happened to attempts.json."""

import json
import socket
from pathlib import Path

JUDGE_SECRET = "/placeholder/replaced/by/the/test"


def _attempt(action):
    try:
        return {"ok": True, "value": action()}
    except Exception as err:  # noqa: BLE001
        return {"ok": False, "error": type(err).__name__, "message": str(err)}


def unlearn(model, output, forget, retain):
    attempts = {
        "judge_secret": _attempt(lambda: Path(JUDGE_SECRET).read_text()),
        "root_home": _attempt(lambda: sorted(p.name for p in Path("/root").iterdir())),
        "network": _attempt(lambda: socket.create_connection(("1.1.1.1", 53), timeout=2).close()),
    }
    print(json.dumps(attempts))
    (Path(output) / "attempts.json").write_text(json.dumps(attempts))
