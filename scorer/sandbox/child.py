"""The process that runs a submission: isolate, import the file, call ``unlearn()``.

Started by the supervisor (inside bubblewrap's view, ``python -I -m scorer.sandbox.child
SPEC``); before any submission code runs it becomes the run's own user and reports what it
is (``scorer.sandbox.isolation.become``), then imports the submission and calls the official
``unlearn(input_path_to_unlearning_candidate_model, output_path_to_write_unlearned_model,
path_to_forget_set, path_to_retain_set)``. Its exit code says how far it got; one line per
event on the status pipe says why (both in ``scorer.sandbox.protocol``).
After ``unlearn()`` returns the process ends at once (``os._exit``): lingering threads or
atexit handlers of the submission cannot hold the run open. Standard library only.
"""

from __future__ import annotations

import contextlib
import importlib.util
import inspect
import json
import os
import resource
import sys
import traceback

from scorer.contract import UNLEARN_ARGUMENTS
from scorer.sandbox.protocol import (
    EVENT_ERROR,
    EVENT_ISOLATION,
    EVENT_RETURNED,
    EVENT_STARTED,
    EXIT_IMPORT_FAILED,
    EXIT_ISOLATION_FAILED,
    EXIT_NO_UNLEARN,
    EXIT_RAISED,
    EXIT_RETURNED,
    encode_event,
)


class StatusPipe:
    """The write end of the status pipe, closed to the programs the submission starts."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        os.set_inheritable(fd, False)  # programs the submission starts do not get it

    def send(self, event: str, **fields) -> None:
        """Tell the supervisor one event; a closed pipe must not stop the run."""
        with contextlib.suppress(OSError):
            os.write(self.fd, encode_event(event, **fields))


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
        status.send(EVENT_ERROR, phase="import", error=_one_line(err))
        _finish(status, EXIT_IMPORT_FAILED)
    unlearn = getattr(module, "unlearn", None)
    if not callable(unlearn):
        status.send(EVENT_ERROR, phase="import", error="the file defines no unlearn() function")
        print("lume: the submission defines no unlearn() function", file=sys.stderr)
        _finish(status, EXIT_NO_UNLEARN)
    try:
        inspect.signature(unlearn).bind(*UNLEARN_ARGUMENTS)
    except TypeError as err:
        message = f"unlearn() cannot take the 4 official arguments: {err}"
        status.send(EVENT_ERROR, phase="import", error=message)
        print(f"lume: {message}", file=sys.stderr)
        _finish(status, EXIT_NO_UNLEARN)
    except ValueError:
        pass  # no signature to inspect (a builtin): let the call decide
    return unlearn


def main(argv: list[str]) -> None:
    """Become the run's user, load and call the submission named by the spec ``argv[1]``
    (JSON); exit."""
    spec = json.loads(argv[1])
    status = StatusPipe(spec["status_fd"])
    from scorer.sandbox.isolation import become
    from scorer.sandbox.linux import set_no_new_privs

    try:
        set_no_new_privs()  # bwrap has set it already; without bwrap, here
        if spec.get("nproc"):  # the run's own uid: its processes and threads, nobody else's
            resource.setrlimit(resource.RLIMIT_NPROC, (spec["nproc"], spec["nproc"]))
        if spec.get("fsize"):  # Python ignores SIGXFSZ: a write past it fails with EFBIG
            resource.setrlimit(resource.RLIMIT_FSIZE, (spec["fsize"], spec["fsize"]))
        report = become(spec.get("user"))
    except OSError as err:
        status.send(EVENT_ERROR, phase="isolation", error=_one_line(err))
        print(f"lume: could not isolate the submission: {err}", file=sys.stderr)
        _finish(status, EXIT_ISOLATION_FAILED)
    os.chdir(spec["cwd"])
    status.send(EVENT_ISOLATION, **report)
    unlearn = load_unlearn(spec["submission"], status)
    status.send(EVENT_STARTED)
    try:
        unlearn(spec["model"], spec["output"], spec["forget"], spec["retain"])
    except BaseException as err:  # noqa: BLE001 - report any way out, then exit
        if isinstance(err, SystemExit) and err.code in (0, None):
            status.send(EVENT_RETURNED, via="SystemExit(0)")
            _finish(status, EXIT_RETURNED)
        traceback.print_exc()
        status.send(EVENT_ERROR, phase="unlearn", error=_one_line(err))
        _finish(status, EXIT_RAISED)
    status.send(EVENT_RETURNED)
    _finish(status, EXIT_RETURNED)


if __name__ == "__main__":
    main(sys.argv)
