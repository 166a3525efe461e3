"""Tries to alter the forget set and the model it was given (append, create, delete, chmod)."""

import json
import os
from pathlib import Path


def _append(path: Path) -> None:
    with open(path, "a") as handle:
        handle.write("tampered\n")


def _attempt(action):
    try:
        action()
        return "done"
    except OSError as err:
        return type(err).__name__


def unlearn(model, output, forget, retain):
    forget = Path(forget)
    target = next(forget.glob("forget.*"))
    attempts = {
        "append": _attempt(lambda: _append(target)),
        "create": _attempt(lambda: (forget / "new.txt").write_text("x")),
        "delete": _attempt(lambda: target.unlink()),
        "chmod": _attempt(lambda: os.chmod(target, 0o666)),
        "model": _attempt(lambda: _append(Path(model) / "config.json")),
    }
    (Path(output) / "attempts.json").write_text(json.dumps(attempts))
