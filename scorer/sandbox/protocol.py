"""What the child tells the judge: its exit codes, their reasons, and its status-pipe lines.

The child (``scorer.sandbox.child``) writes one JSON object per line on the status pipe
and ends with one of the exit codes below; the supervisor collects the lines, the runner
turns the exit code into a verdict. The submission runs in the child and could write on
the pipe too, so the runner takes a run's status from its exit code and only the reason's
details from these lines. Standard library only: all three import it.
"""

from __future__ import annotations

import json

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

# The events the child sends (the ``event`` field of each line).
EVENT_ISOLATION = "isolation"  # what isolation was obtained (the other fields)
EVENT_ERROR = "error"  # why it stopped: ``phase`` (isolation, import, unlearn) and ``error``
EVENT_STARTED = "started"  # unlearn() is about to be called
EVENT_RETURNED = "returned"  # unlearn() returned

LINE_MAX_BYTES = 1 << 16  # a longer line is cut there (and then fails to parse)


def encode_event(event: str, **fields) -> bytes:
    """One status line: ``{"event": ..., **fields}`` as JSON, newline-terminated (values
    JSON cannot hold are written as their ``str``)."""
    return (json.dumps({"event": event, **fields}, default=str) + "\n").encode("utf-8")


def decode_events(pending: bytes) -> tuple[list[dict], bytes]:
    """The events of the complete lines in ``pending`` and the unfinished rest to keep.

    Lines that are not a JSON object (the submission's noise) are dropped.
    """
    *lines, rest = pending.split(b"\n")
    events = []
    for line in lines:
        try:
            event = json.loads(line[:LINE_MAX_BYTES])
        except ValueError:
            continue
        if isinstance(event, dict):
            events.append(event)
    return events, rest


def first_error(events: list[dict]) -> str | None:
    """The ``error`` of the first error event: why the child stopped, in its words."""
    errors = [e for e in events if e.get("event") == EVENT_ERROR]
    return errors[0].get("error") if errors else None
