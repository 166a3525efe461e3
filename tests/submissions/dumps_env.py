"""Writes its environment, working directory and HOME to env.json in the output."""

import json
import os
from pathlib import Path


def unlearn(model, output, forget, retain):
    record = {"env": dict(os.environ), "cwd": os.getcwd(), "home": os.path.expanduser("~")}
    record["uid"] = os.getuid()
    record["arguments"] = [model, output, forget, retain]
    (Path(output) / "env.json").write_text(json.dumps(record))
