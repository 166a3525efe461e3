"""The judge's side of validation in its own process: start it early, bound it, read it.

``scorer.checkpoint.worker`` validates the frozen checkpoint in a child process. This
module starts that child when the run starts (niced: its seconds of imports overlap the
submission's run instead of adding to the judge's overhead), hands it the frozen copy's
path once it exists, relays its progress, and ends it at a wall-clock limit. Memory, CPU
time and output are limited in the child (``RLIMIT_AS`` over what its imports took,
``RLIMIT_CPU``, ``RLIMIT_FSIZE`` on its stdout/stderr files). Whatever goes wrong (a
timeout, a memory blow-up, a crash, output past its cap, a line that does not parse) is
one line, :attr:`Outcome.error`, that the runner turns into an ``invalid`` verdict; the
judge's process never runs the checkpoint's validation itself. A config.json whose trial
passed in an earlier child of the same judge process (same bytes) is not tried again.

The child runs as the judge's user, without namespaces: it reads only the frozen copy
(root's files) and the reference, through bounded parsers that never import or unpickle
anything of the checkpoint; the limits are against exhaustion, not against code that
would already run as root.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from scorer.checkpoint.limits import Limits
from scorer.checkpoint.report import ValidationReport
from scorer.checkpoint.scan import DEFAULT_SCORING_DTYPES

GiB = 1 << 30
POLL = 0.05  # seconds between reads of the child's output while it runs
# sha256 of each config.json whose trial forward pass passed in a child of this process:
# the trial reads config.json alone, so those exact bytes pass again (a batch of runs, or
# the tests, need not import transformers for each run)
PASSED_TRIALS: set[str] = set()


@dataclass(frozen=True)
class ValidatorLimits:
    """What one validation may take. ``memory_bytes`` is on top of what the imports map
    (a CUDA build of torch maps gigabytes); CPU and wall-clock time grow with the
    checkpoint's size (the finiteness scan reads every byte); ``start_seconds`` is added
    to the wall-clock limit when the child had not finished its imports yet."""

    memory_bytes: int = 2 * GiB
    cpu_seconds: float = 60.0
    cpu_seconds_per_gib: float = 20.0
    wall_seconds: float = 120.0
    wall_seconds_per_gib: float = 40.0
    start_seconds: float = 120.0
    output_bytes: int = 4 << 20

    def cpu_for(self, checkpoint_bytes: int) -> float:
        return self.cpu_seconds + self.cpu_seconds_per_gib * checkpoint_bytes / GiB

    def wall_for(self, checkpoint_bytes: int) -> float:
        return self.wall_seconds + self.wall_seconds_per_gib * checkpoint_bytes / GiB


@dataclass
class Outcome:
    """One validation: the report, or the one-line reason there is none; and the process's
    record for ``run.json``."""

    report: ValidationReport | None
    error: str | None
    process: dict = field(default_factory=dict)


def child_environment(folder: Path) -> dict[str, str]:
    """Nothing of the judge's environment: one thread, no GPU, no network, a home of its own."""
    return {
        "PATH": os.defpath,
        "HOME": str(folder),
        "HF_HOME": str(folder / "hf"),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "CUDA_VISIBLE_DEVICES": "",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "MALLOC_ARENA_MAX": "2",
        "LANG": "C.UTF-8",
    }


class Validator:
    """One validation process (started at most twice: a child that died before it was
    given the checkpoint is started again, once)."""

    def __init__(
        self,
        reference: Path,
        folder: Path,
        limits: ValidatorLimits = ValidatorLimits(),
        trial: bool = True,
    ):
        self.reference = reference
        self.folder = folder
        self.limits = limits
        self.trial = trial  # the judge's runs: always (see scorer.checkpoint.rules.trial)
        self.preload_trial = trial and not PASSED_TRIALS  # else imported when needed
        self.process: subprocess.Popen | None = None
        self.spawned_at = 0.0
        self.starts = 0
        self.start_error: str | None = None

    def start(self) -> None:
        """Start the child now (it imports, then waits for :meth:`validate`); idempotent."""
        if self.process is not None:
            return
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.starts += 1
        out = open(self.folder / f"out-{self.starts}", "wb")  # noqa: SIM115 - the child's
        err = open(self.folder / f"err-{self.starts}", "wb")  # noqa: SIM115
        argv = [
            sys.executable, "-I", "-m", "scorer.checkpoint.worker",
            "--reference", str(self.reference),
            "--output-bytes", str(self.limits.output_bytes),
        ] + (["--preload-trial"] if self.preload_trial else [])  # fmt: skip
        try:
            self.process = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=out,
                stderr=err,
                cwd=self.folder,
                env=child_environment(self.folder),
                start_new_session=True,  # a terminal's Ctrl-C is the runner's to handle
            )
        except OSError as error:  # no process: validate() says why, the run goes on
            self.start_error = f"its process could not start: {' '.join(str(error).split())}"
            return
        finally:
            out.close()
            err.close()
        self.spawned_at = time.monotonic()
        with contextlib.suppress(OSError):  # already gone: validate() starts another
            os.setpriority(os.PRIO_PROCESS, self.process.pid, 19)  # the submission first

    def close(self) -> None:
        """End the child if it still runs (any path out of the run calls this)."""
        if self.process is not None and self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            _wait(self.process, None)
        self.process = None

    def validate(
        self,
        checkpoint: Path,
        checkpoint_bytes: int,
        limits: Limits,
        scoring_dtypes: tuple[str, ...] = DEFAULT_SCORING_DTYPES,
        progress=None,
        config_sha256: str | None = None,
    ) -> Outcome:
        """Validate ``checkpoint`` (the frozen copy) in the child; never raises for what
        the checkpoint does. ``config_sha256``: its config.json's hash (from the freeze),
        so that a configuration whose trial passed in this judge process is not tried again."""
        trial = self.trial and (config_sha256 is None or config_sha256 not in PASSED_TRIALS)
        request = {
            "checkpoint": str(checkpoint),
            "trial": trial,
            "limits": asdict(limits),
            "scoring_dtypes": list(scoring_dtypes),
            "memory_bytes": self.limits.memory_bytes,
            "cpu_seconds": self.limits.cpu_for(checkpoint_bytes),
        }
        outcome = self._once(request, checkpoint_bytes, progress)
        if outcome.process.get("started") is False and outcome.error is not None:
            retried = outcome.process  # it died before it saw the checkpoint: not its fault
            self.close()
            outcome = self._once(request, checkpoint_bytes, progress)
            outcome.process["first_attempt"] = retried
        outcome.process["trial"] = "ran" if trial else ("passed before" if self.trial else "off")
        report = outcome.report
        ran = trial and config_sha256 and report is not None and report.ok  # ok: it ran
        if ran and not any(note.startswith("trial not conclusive") for note in report.notes):
            PASSED_TRIALS.add(config_sha256)
        return outcome

    def _once(self, request: dict, checkpoint_bytes: int, progress) -> Outcome:
        self.start()
        process = self.process
        if process is None:
            why = self.start_error or "its process could not start"
            return Outcome(None, f"validation failed: {why}", {"started": None, "error": why})
        with contextlib.suppress(OSError):  # the submission is done: the judge's turn now
            os.setpriority(os.PRIO_PROCESS, process.pid, 0)
        lines = _Lines(self.folder / f"out-{self.starts}", self.limits.output_bytes)
        lines.read()  # whatever it printed before the request ("ready")
        ready = lines.seen("ready")
        wall = self.limits.wall_for(checkpoint_bytes) + (0 if ready else self.limits.start_seconds)
        asked = time.monotonic()
        try:
            process.stdin.write(json.dumps(request).encode())
            process.stdin.close()
        except OSError:
            pass  # it is gone: its exit status says why
        relay = _Relay(progress)
        timed_out, usage = False, None
        while usage is None:
            usage = _wait(process, POLL)
            relay.feed(lines.read())
            if usage is None and time.monotonic() - asked > wall:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                usage = _wait(process, None)
                timed_out = True
        relay.feed(lines.read())
        record = {
            "argv_module": "scorer.checkpoint.worker",
            "prewarmed": ready,  # its imports were done before the checkpoint was ready
            "started": lines.seen("started"),
            "exit_code": process.returncode,
            "seconds": round(time.monotonic() - asked, 3),
            "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 3),
            "max_rss_bytes": usage.ru_maxrss * 1024,
            "output_bytes": lines.size,
            "limits": {
                "memory_bytes_over_imports": self.limits.memory_bytes,
                "cpu_seconds": request["cpu_seconds"],
                "wall_seconds": wall,
                "output_bytes": self.limits.output_bytes,
            },
        }
        started = lines.last("started")
        for key in ("imports_bytes", "address_space_bytes", "cpu_limit_seconds"):
            record[key] = started.get(key)
        error = self._error(process, lines, timed_out, wall, record)
        report = None
        if error is None:
            try:
                report = ValidationReport.from_json(lines.last("report")["report"])
            except Exception as err:  # noqa: BLE001 - a report we cannot read is no report
                error = f"its report could not be read ({type(err).__name__})"
        record["error"] = error
        return Outcome(report, error and f"validation failed: {error}", record)

    def _error(
        self, process, lines: _Lines, timed_out: bool, wall: float, record: dict
    ) -> str | None:
        """Why there is no report, in one line; None when there is one."""
        memory = self.limits.memory_bytes / GiB
        if timed_out:
            return f"it took longer than {wall:g} s and was stopped"
        if lines.size >= self.limits.output_bytes:
            return f"its output passed {self.limits.output_bytes} bytes"
        code = process.returncode
        if code is not None and code < 0:
            limit = record.get("cpu_limit_seconds")
            spent = isinstance(limit, int) and record["cpu_seconds"] >= limit - 1
            if -code in (signal.SIGXCPU, signal.SIGKILL) and spent:
                cpu = record["limits"]["cpu_seconds"]
                return f"it was killed by {_signal_name(-code)} (CPU limit {cpu:g} s)"
            return f"it was killed by {_signal_name(-code)}"
        error = lines.last("error").get("error")
        if isinstance(error, str):
            if "MemoryError" in error or "can't allocate memory" in error:
                return f"it needed more than its memory limit ({memory:g} GiB): {error[:200]}"
            return error[:300]
        if code != 0 or not lines.seen("report"):
            return f"it exited with code {code} without a report"
        if lines.bad:
            return f"{lines.bad} line(s) of its output did not parse"
        return None


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _wait(process: subprocess.Popen, timeout: float | None):
    """The child's resource usage once it has exited (None while it runs after
    ``timeout``); sets ``returncode`` as ``Popen.wait`` would."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        try:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        except ChildProcessError:  # reaped elsewhere: no usage to report
            process.returncode = process.returncode if process.returncode is not None else -9
            return resource_zero()
        if pid:
            process.returncode = os.waitstatus_to_exitcode(status)
            return usage
        if deadline is not None and time.monotonic() >= deadline:
            return None
        time.sleep(min(0.01, timeout or 0.01))


def resource_zero():
    import resource

    return resource.struct_rusage((0.0, 0.0) + (0,) * 14)


class _Lines:
    """The child's stdout file, read as it grows: complete lines, parsed one at a time."""

    def __init__(self, path: Path, cap: int):
        self.path, self.cap = path, cap
        self.offset, self.partial, self.size, self.bad = 0, b"", 0, 0
        self.events: dict[str, dict] = {}  # the last line of each event

    def read(self) -> list[dict]:
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self.offset)
                data = handle.read(max(0, self.cap - self.offset))
        except OSError:
            return []
        self.offset += len(data)
        self.size = self.offset
        *complete, self.partial = (self.partial + data).split(b"\n")
        found = []
        for raw in complete:
            try:
                line = json.loads(raw)
            except Exception:  # noqa: BLE001 - RecursionError included
                self.bad += 1
                continue
            if isinstance(line, dict) and isinstance(line.get("event"), str):
                self.events[line["event"]] = line
                found.append(line)
            else:
                self.bad += 1
        return found

    def seen(self, event: str) -> bool:
        return event in self.events

    def last(self, event: str) -> dict:
        return self.events.get(event, {})


class _Relay:
    """The child's progress lines, passed on to the runner's progress factory."""

    def __init__(self, progress):
        self.progress = progress
        self.bars: dict[str, object] = {}

    def feed(self, lines: list[dict]) -> None:
        if self.progress is None:
            return
        for line in lines:
            phase = line.get("phase")
            if line["event"] == "progress" and isinstance(line.get("total"), int):
                self.bars[str(phase)] = self.progress(str(phase), line["total"])
            elif line["event"] == "advance" and isinstance(line.get("n"), int):
                advance = self.bars.get(str(phase))
                if advance is not None:
                    advance(line["n"])
