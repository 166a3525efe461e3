"""Leaves a file in every world-writable place for a later run (training carried across
runs, or messages between teams), and reports what an earlier run left there."""

import json
import os
from pathlib import Path

PLACES = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/var/lock")
NAME = "lume-state-between-runs"


def unlearn(model, output, forget, retain):
    found, written = {}, {}
    for place in PLACES:
        path = Path(place) / NAME
        found[place] = path.read_text() if path.exists() else None
        try:
            path.write_text(f"left by pid {os.getpid()}")
            written[place] = True
        except OSError as err:
            written[place] = type(err).__name__
    (Path(output) / "state.json").write_text(json.dumps({"found": found, "written": written}))
