"""The queue on disk: one directory per submission with its state, so the driver is disposable.

``RESULTS/batch.json`` holds the settings the queue was started with (a restart with another
track or budget is refused); ``RESULTS/<name>/state.json`` one submission's state, written
atomically: ``pending``, ``running``, ``done`` (judged: ``run.json`` holds the verdict) or
``failed`` (the infrastructure gave up on it), the phase (``unlearn`` then ``score``), every
attempt with its times and outcome, and the attempts lost to the infrastructure (counted
against ``--retries``). ``RESULTS/<name>/run/`` is the runner's ``--out``.

The transitions are pure functions of a :class:`State`; only :class:`Queue` reads and writes.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

from scorer.batch.submissions import Submission
from scorer.data.files import write_bytes_atomic
from scorer.errors import LumeError

FORMAT = 1
PENDING, RUNNING, DONE, FAILED = "pending", "running", "done", "failed"
STATES = (PENDING, RUNNING, DONE, FAILED)
UNLEARN, SCORE = "unlearn", "score"
PHASES = (UNLEARN, SCORE)
# ended_by values of run.json that are the judge's trouble, not the submission's
JUDGE_TROUBLE = ("judge-error", "interrupted")


def now_iso(stamp: float | None = None) -> str:
    return datetime.fromtimestamp(time.time() if stamp is None else stamp, timezone.utc).isoformat()


@dataclass(frozen=True)
class Attempt:
    """One Ray task: when it was handed to Ray, started and ended (from the worker), where,
    and how it ended (``finished``, ``lost: ...``, ``interrupted: ...``)."""

    number: int
    phase: str
    submitted_at: str
    started_at: str | None = None
    ended_at: str | None = None
    node: str | None = None
    outcome: str | None = None
    gpu_seconds: float = 0.0  # GPUs reserved x the task's wall time


@dataclass(frozen=True)
class State:
    """A submission's place in the queue (``RESULTS/<name>/state.json``)."""

    name: str
    team: str
    submission: str
    submission_sha256: str
    state: str = PENDING
    phase: str = UNLEARN
    lost: int = 0  # attempts lost to the infrastructure (worker, node, judge)
    attempts: tuple[Attempt, ...] = ()
    status: str | None = None  # run.json's status once judged
    reason: str | None = None  # run.json's reason, or why the infrastructure gave up
    created_at: str = field(default_factory=now_iso)
    updated_at: str = field(default_factory=now_iso)

    @property
    def gpu_seconds(self) -> float:
        return sum(a.gpu_seconds for a in self.attempts)

    def to_json(self) -> dict:
        return {"format": FORMAT, **asdict(self)}


def state_from_json(data: object, path: Path) -> State:
    """A state file read back; a damaged one is a one-line error naming it."""
    try:
        if not isinstance(data, dict) or data.pop("format", None) != FORMAT:
            raise ValueError(f"expected a state of format {FORMAT}")
        attempts = tuple(Attempt(**a) for a in data.pop("attempts"))
        state = State(**data, attempts=attempts)
    except (TypeError, ValueError, KeyError) as err:
        raise LumeError(f"{path}: not a batch state file ({err}); move it away") from None
    if state.state not in STATES or state.phase not in PHASES:
        raise LumeError(f"{path}: state {state.state!r} / phase {state.phase!r} unknown")
    return state


# ----------------------------------------------------------------- transitions (pure)


def submitted(state: State, phase: str, stamp: float) -> State:
    """Handed to Ray for ``phase``: a new attempt."""
    attempt = Attempt(len(state.attempts) + 1, phase, now_iso(stamp))
    return replace(
        state,
        state=RUNNING,
        phase=phase,
        attempts=(*state.attempts, attempt),
        updated_at=now_iso(stamp),
    )


def _close_attempt(state: State, stamp: float, outcome: str, report: dict | None) -> State:
    report = report or {}
    last = replace(
        state.attempts[-1],
        started_at=report.get("started_at"),
        ended_at=report.get("ended_at") or now_iso(stamp),
        node=report.get("node"),
        outcome=outcome,
        gpu_seconds=float(report.get("gpu_seconds", 0.0)),
    )
    return replace(state, attempts=(*state.attempts[:-1], last), updated_at=now_iso(stamp))


def finishes(state: State, record: dict | None) -> bool:
    """Whether ``run.json`` is the outcome of the state's phase: any record ends the run,
    and a scored verdict ends scoring once it holds its scores (or was refused them)."""
    if record is None:
        return False
    return state.phase == UNLEARN or not (record.get("scored") and record.get("scores") is None)


def judge_trouble(record: dict) -> str | None:
    """Why ``run.json`` is no verdict on the submission (the judge could not finish), if so."""
    if record.get("ended_by") in JUDGE_TROUBLE:
        return f"the judge could not finish the run: {record.get('reason')}"
    return None


def judged(state: State, record: dict, stamp: float, report: dict | None = None) -> State:
    """``run.json`` finished the phase: scoring follows a scored verdict not yet scored;
    anything else is done (the submission's own verdict, final)."""
    if state.attempts and state.attempts[-1].outcome is None:
        state = _close_attempt(state, stamp, "finished", report)
    if record.get("scored") and record.get("scores") is None:
        return replace(state, state=PENDING, phase=SCORE, status=record.get("status"))
    return replace(state, state=DONE, status=record.get("status"), reason=record.get("reason"))


def lost(state: State, why: str, retries: int, stamp: float, report: dict | None = None) -> State:
    """The task's worker, node or judge was lost: again, or failed once ``retries`` are spent."""
    state = _close_attempt(state, stamp, f"lost: {why}", report)
    state = replace(state, lost=state.lost + 1)
    if state.lost > retries:
        reason = f"infrastructure failure after {state.lost} lost attempt(s): {why}"
        return replace(state, state=FAILED, status=None, reason=reason)
    return replace(state, state=PENDING)


def recovered(state: State, record: dict | None, stamp: float) -> State:
    """A state as a new driver finds it: a task that finished while no driver listened is
    kept (never rerun); one still marked running died with the old driver, and goes
    back to pending (not counted against ``--retries``: the organizer stopped it)."""
    if state.state != RUNNING:
        return state
    if finishes(state, record) and judge_trouble(record) is None:
        return judged(state, record, stamp)
    state = _close_attempt(state, stamp, "interrupted: the driver stopped", None)
    return replace(state, state=PENDING)


# ----------------------------------------------------------------- on disk


class Queue:
    """``RESULTS/``: the settings, one state per submission, and a lock held by one driver."""

    def __init__(self, results: Path) -> None:
        self.results = results
        self._lock_fd: int | None = None

    def state_path(self, name: str) -> Path:
        return self.results / name / "state.json"

    def run_dir(self, name: str) -> Path:
        return self.results / name / "run"

    def lock(self) -> None:
        """One driver per results directory (the kernel drops the lock with the process)."""
        self.results.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.results / "batch.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise LumeError(
                f"--out {self.results}: another lume-score batch is driving this queue"
            ) from None
        self._lock_fd = fd

    def unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def settings(self) -> dict | None:
        """The settings the queue was started with (None: a new queue)."""
        path = self.results / "batch.json"
        if not path.is_file():
            return None
        try:
            before = json.loads(path.read_text(encoding="utf-8"))["settings"]
            if not isinstance(before, dict):
                raise TypeError("settings is not an object")
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise LumeError(f"{path}: not a batch settings file ({err})") from None
        return before

    def check_track(self, track: str) -> None:
        """Refuse another track's queue (cheap: before the track's data is read)."""
        before = self.settings()
        if before is not None and before.get("track") != track:
            raise LumeError(
                f"--out {self.results}: holds the queue of track {before.get('track')!r}, "
                f"not {track!r}; use another --out"
            )

    def check_settings(self, settings: dict) -> None:
        """Refuse to continue a queue started with another track or other settings."""
        before = self.settings()
        if before is None:
            return
        if before.get("track") != settings.get("track"):
            raise LumeError(
                f"--out {self.results}: holds the queue of track {before.get('track')!r}, "
                f"not {settings.get('track')!r}; use another --out"
            )
        for key in sorted(set(before) | set(settings)):
            if before.get(key) != settings.get(key):
                raise LumeError(
                    f"--out {self.results}: its queue was started with {key} = "
                    f"{before.get(key)!r}, not {settings.get(key)!r}; use the same options "
                    "or another --out"
                )

    def write_settings(self, settings: dict) -> None:
        body = {"format": FORMAT, "settings": settings}
        write_bytes_atomic(self.results / "batch.json", _json(body))

    def read(self, name: str) -> State | None:
        path = self.state_path(name)
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as err:
            raise LumeError(f"{path}: not valid JSON ({err}); move it away") from None
        return state_from_json(data, path)

    def write(self, state: State) -> None:
        path = self.state_path(state.name)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(path, _json(state.to_json()))

    def names_on_disk(self) -> list[str]:
        return sorted(p.parent.name for p in self.results.glob("*/state.json"))

    def open(self, submissions: list[Submission]) -> list[State]:
        """Every submission's state: new ones pending, known ones as they were left. A
        changed file, or a queued submission no longer given, is refused (one line)."""
        given = {s.name for s in submissions}
        strays = [n for n in self.names_on_disk() if n not in given]
        if strays:
            raise LumeError(
                f"--out {self.results}: its queue holds {strays[0]!r}, which is not among the "
                "submissions given; give the same submissions or use another --out"
            )
        states = []
        for sub in submissions:
            state = self.read(sub.name)
            if state is None:
                state = State(sub.name, sub.team, str(sub.path), sub.sha256)
                self.write(state)
            elif state.submission_sha256 != sub.sha256:
                raise LumeError(
                    f"{sub.path}: changed since it was queued as {sub.name!r} (sha256 "
                    f"{state.submission_sha256[:12]}… then, {sub.sha256[:12]}… now); give it "
                    "another name or use another --out"
                )
            states.append(state)
        return states

    def run_record(self, name: str) -> dict | None:
        """The run's ``run.json`` when one is complete (written atomically by the runner)."""
        path = self.run_dir(name) / "run.json"
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return record if isinstance(record, dict) and "status" in record else None

    def move_aside(self, name: str, what: Path, label: str) -> Path | None:
        """Move a lost attempt's output out of the way (kept, never deleted): the runner
        wants a new ``--out``, and a worker still winding down writes into the moved copy."""
        if not what.exists():
            return None
        n = 1
        while (target := self.results / name / f"lost-{n}-{label}").exists():
            n += 1
        what.rename(target)
        return target


def _json(body: dict) -> bytes:
    return (json.dumps(body, indent=2) + "\n").encode("utf-8")
