"""Validation as its own limited process: ``python -I -m scorer.checkpoint.worker``.

The judge validates a stranger's checkpoint; whatever the checkpoint makes the validator
do (a header that takes memory, a configuration whose trial is slow, a bug that crashes
the interpreter) must cost the judge one line in ``run.json``, not its own process. So the
judge (``scorer.sandbox.validator``) starts this module, and it

1. caps its own output files (``RLIMIT_FSIZE``) and core dumps at once;
2. imports torch and, with ``--preload-trial``, transformers, and runs the trusted
   reference's trial forward pass (what a failing checkpoint's trial is compared with):
   the judge starts it while the submission runs, so the seconds of imports are not the
   judge's overhead; then prints ``{"event": "ready", ...}``;
3. reads one request from stdin (JSON: ``checkpoint``, ``trial``, ``limits``,
   ``scoring_dtypes``, ``memory_bytes``, ``cpu_seconds``), then limits its address space
   to what the imports took plus ``memory_bytes`` (``RLIMIT_AS``) and its CPU time to what
   it used plus ``cpu_seconds`` (``RLIMIT_CPU``), before it opens a file of the checkpoint
   (transformers is imported then if the trial runs and was not preloaded);
4. prints ``started``, progress lines, and last the report (``report``) or the error that
   stopped it (``error``): one JSON object per line on stdout.

The wall-clock limit and the reading of these lines are the judge's side.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import sys
import time
from pathlib import Path

MAX_REQUEST_BYTES = 1 << 20
PROGRESS_EVERY = 0.25  # seconds between progress lines of one phase


def emit(event: str, **fields) -> None:
    """One line on stdout, flushed (the judge reads it while this process runs)."""
    sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
    sys.stdout.flush()


def address_space() -> int:
    """This process's virtual memory now (bytes): what the imports mapped."""
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[0])
    return pages * resource.getpagesize()


def cpu_used() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def limit_after_imports(memory_bytes: int, cpu_seconds: float) -> dict:
    """``RLIMIT_AS`` and ``RLIMIT_CPU`` from here on: what is used now plus the allowance
    (a CUDA build of torch maps gigabytes at import, so a fixed cap would be wrong)."""
    base = address_space()
    memory = base + memory_bytes
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    cpu = int(cpu_used() + cpu_seconds) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))  # SIGXCPU, then SIGKILL
    return {"imports_bytes": base, "address_space_bytes": memory, "cpu_limit_seconds": cpu}


def progress_lines(phase: str, total: int):
    """A progress factory for ``validate_checkpoint`` that prints (a few lines a second)."""
    emit("progress", phase=phase, total=total)
    pending, done, last = 0, 0, time.monotonic()

    def advance(n: int) -> None:
        nonlocal pending, done, last
        pending += n
        done += n
        if time.monotonic() - last >= PROGRESS_EVERY or done >= total:
            emit("advance", phase=phase, n=pending)
            pending, last = 0, time.monotonic()

    return advance


def preload(reference: Path, trial: bool) -> None:
    """Import what validation needs (and warm the trial) before the checkpoint exists."""
    import torch

    torch.set_num_threads(1)
    from scorer.checkpoint import validate  # noqa: F401 - the import is the point

    if trial:
        from transformers import AutoConfig, AutoModelForCausalLM  # noqa: F401

        from scorer.checkpoint.rules.trial import reference_trial

        reference_trial(reference)


def serve(reference: Path) -> int:
    """Steps 3 and 4 of the module docstring; the exit code."""
    from scorer.checkpoint.limits import Limits
    from scorer.checkpoint.validate import validate_checkpoint

    raw = sys.stdin.buffer.read(MAX_REQUEST_BYTES + 1)
    if not raw:
        return 0  # the judge closed stdin without a request: nothing to do
    if len(raw) > MAX_REQUEST_BYTES:
        emit("error", error="the request is over 1 MiB")
        return 2
    request = json.loads(raw)
    limits = limit_after_imports(int(request["memory_bytes"]), float(request["cpu_seconds"]))
    emit("started", **limits)
    report = validate_checkpoint(
        Path(request["checkpoint"]),
        reference,
        Limits(**request["limits"]),
        progress_lines,
        trial=bool(request["trial"]),
        scoring_dtypes=tuple(request["scoring_dtypes"]),
    )
    emit("report", report=report.to_json())
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scorer.checkpoint.worker")
    parser.add_argument("--reference", type=Path, required=True)
    parser.add_argument("--output-bytes", type=int, required=True)
    parser.add_argument("--preload-trial", action="store_true")
    args = parser.parse_args(argv)
    resource.setrlimit(resource.RLIMIT_FSIZE, (args.output_bytes, args.output_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    try:
        preload(args.reference, args.preload_trial)
        emit("ready", imports_bytes=address_space(), cpu_seconds=round(cpu_used(), 3))
        return serve(args.reference)
    except BaseException as err:  # noqa: BLE001 - reported to the judge, whatever it is
        text = " ".join(str(err).split())[:500]
        with contextlib.suppress(BaseException):  # no room left to say it: the exit code does
            emit("error", error=f"{type(err).__name__}: {text}" if text else type(err).__name__)
        return 3


if __name__ == "__main__":
    sys.exit(main())
