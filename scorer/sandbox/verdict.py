"""The verdict of a run: its status, the reason a person reads, and whether it is scored.

Statuses (``scorer.contract.RUN_STATUSES``): ``ok`` (returned, checkpoint valid),
``invalid`` (returned, checkpoint missing or invalid, or its files passed the disk limit),
``timeout`` (killed at the time limit), ``oom`` (memory limit passed), ``failed`` (raised,
could not be imported, has no usable ``unlearn``, crashed), ``judge-error`` (the host's
fault, not the submission's: the supervisor failed, the disk filled under the limit).
``scored``: ``ok``, or ``timeout`` with a valid checkpoint under the official rule
(``on_timeout="score"``); never after ``oom`` or ``failed``. Pure: it reads the
supervisor's record and the validation's answer, nothing else.
"""

from __future__ import annotations

import signal
from typing import NamedTuple

from scorer.contract import RUN_STATUSES
from scorer.sandbox.protocol import REASONS, first_error

STATUSES = RUN_STATUSES


class Verdict(NamedTuple):
    """A run's judgement; a tuple, so ``status, reason, scored = verdict`` reads it too."""

    status: str
    reason: str | None  # None when ok
    scored: bool


def decide(
    supervision: dict, validation_ok: bool, on_timeout: str, invalid_because: str | None = None
) -> Verdict:
    """The verdict from how the run ended and whether its checkpoint is valid (if not,
    ``invalid_because``: the first violation): the one place where the official rules
    (a timeout is scored if its checkpoint is valid) live."""
    ended_by, code = supervision["ended_by"], supervision["exit_code"]
    detail = first_error(supervision.get("events", []))
    if ended_by == "timeout":
        limit = supervision["deadline"] - supervision["start"]
        reason = f"still running at the time limit ({limit:g} s): process tree ended"
        if not validation_ok:
            reason += "; the checkpoint present is not valid"
        return Verdict("timeout", reason, validation_ok and on_timeout == "score")
    if ended_by == "oom":
        memory = supervision["memory"]
        what = "GPU memory" if memory.get("gpu_over_limit") else "memory"
        return Verdict("oom", f"{what} passed the limit ({memory.get('limit_bytes')} bytes)", False)
    if ended_by == "disk":
        limit = supervision.get("disk", {}).get("limit_bytes")
        return Verdict("invalid", f"the run's files passed the disk limit ({limit} bytes)", False)
    if ended_by == "judge-error":
        why = supervision.get("judge_error") or "unknown"
        return Verdict("judge-error", f"the judge could not supervise the run: {why}", False)
    if ended_by == "interrupted":
        return Verdict("failed", "the run was interrupted by the organizer", False)
    if code == 0:
        if validation_ok:
            return Verdict("ok", None, True)
        reason = "unlearn() returned but the checkpoint is missing or invalid"
        if invalid_because:
            reason += ": " + " ".join(invalid_because.split())[:300]
        return Verdict("invalid", reason, False)
    if code in REASONS:
        return Verdict("failed", REASONS[code] + (f": {detail}" if detail else ""), False)
    if code is not None and (code < 0 or code > 128):  # > 128: bwrap passes a signal on
        number = -code if code < 0 else code - 128
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        return Verdict("failed", f"the submission was killed by {name}", False)
    return Verdict("failed", f"the submission exited with code {code}", False)
