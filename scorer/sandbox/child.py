"""The process that runs a submission: isolate, import the file, call ``unlearn()``.

Started by the supervisor as root (``python -I -m scorer.sandbox.child SPEC``); it carries out
the isolation plan (``scorer.sandbox.isolate``) before any submission code runs, then
imports the submission and calls the official
``unlearn(input_path_to_unlearning_candidate_model, output_path_to_write_unlearned_model,
path_to_forget_set, path_to_retain_set)``. Its exit code says how far it got; one JSON
line per event on the status pipe says why (the submission could write there too, so the
runner takes statuses from exit codes and only reasons from these lines).
After ``unlearn()`` returns the process ends at once (``os._exit``): lingering threads or
atexit handlers of the submission cannot hold the run open.
"""

from __future__ import annotations

import contextlib
import importlib.util
import inspect
import json
import os
import sys
import traceback

from scorer.contract import UNLEARN_ARGUMENTS

EXIT_RETURNED = 0
EXIT_RAISED = 101
EXIT_IMPORT_FAILED = 102
EXIT_NO_UNLEARN = 103
EXIT_ISOLATION_FAILED = 104
REASONS = {
    EXIT_RAISED: "unlearn() raised",
    EXIT_IMPORT_FAILED: "the submission could not be imported",
    EXIT_NO_UNLEARN: "the submission has no usable unlearn()",
    EXIT_ISOLATION_FAILED: "the runner could not isolate the submission",
}


class StatusPipe:
    def __init__(self, fd: int) -> None:
        self.fd = fd
        os.set_inheritable(fd, False)  # programs the submission starts do not get it

    def send(self, event: str, **fields) -> None:
        line = json.dumps({"event": event, **fields}, default=str) + "\n"
        with contextlib.suppress(OSError):
            os.write(self.fd, line.encode("utf-8"))


def _one_line(err: BaseException) -> str:
    if isinstance(err, SyntaxError):
        where = f" ({os.path.basename(err.filename or '?')}, line {err.lineno})"
        return f"SyntaxError: {err.msg}{where}"
    text = " ".join(str(err).split())
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def _finish(status: StatusPipe, code: int) -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


def load_unlearn(path: str, status: StatusPipe):
    """Import the submission file and return its ``unlearn``; exit when that fails."""
    try:
        spec = importlib.util.spec_from_file_location("submission", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules["submission"] = module
        spec.loader.exec_module(module)
    except BaseException as err:  # noqa: BLE001 - SystemExit at import time counts too
        traceback.print_exc()
        status.send("error", phase="import", error=_one_line(err))
        _finish(status, EXIT_IMPORT_FAILED)
    unlearn = getattr(module, "unlearn", None)
    if not callable(unlearn):
        status.send("error", phase="import", error="the file defines no unlearn() function")
        print("lume: the submission defines no unlearn() function", file=sys.stderr)
        _finish(status, EXIT_NO_UNLEARN)
    try:
        inspect.signature(unlearn).bind(*UNLEARN_ARGUMENTS)
    except TypeError as err:
        message = f"unlearn() cannot take the 4 official arguments: {err}"
        status.send("error", phase="import", error=message)
        print(f"lume: {message}", file=sys.stderr)
        _finish(status, EXIT_NO_UNLEARN)
    except ValueError:
        pass  # no signature to inspect (a builtin): let the call decide
    return unlearn


def main(argv: list[str]) -> None:
    with open(argv[1], encoding="utf-8") as handle:
        spec = json.load(handle)
    status = StatusPipe(spec["status_fd"])
    from scorer.sandbox.isolation import isolate

    try:
        report = isolate(spec["isolation"])
    except OSError as err:
        status.send("error", phase="isolation", error=_one_line(err))
        print(f"lume: could not isolate the submission: {err}", file=sys.stderr)
        _finish(status, EXIT_ISOLATION_FAILED)
    os.chdir(spec["cwd"])
    status.send("isolation", **report)
    unlearn = load_unlearn(spec["submission"], status)
    status.send("started")
    try:
        unlearn(spec["model"], spec["output"], spec["forget"], spec["retain"])
    except BaseException as err:  # noqa: BLE001 - report any way out, then exit
        if isinstance(err, SystemExit) and err.code in (0, None):
            status.send("returned", via="SystemExit(0)")
            _finish(status, EXIT_RETURNED)
        traceback.print_exc()
        status.send("error", phase="unlearn", error=_one_line(err))
        _finish(status, EXIT_RAISED)
    status.send("returned")
    _finish(status, EXIT_RETURNED)


if __name__ == "__main__":
    main(sys.argv)
