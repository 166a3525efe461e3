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

LINE_MAX_BYTES = 1 << 16  # a longer line is dropped
MAX_NESTING = 16  # deeper objects are not the child's (and could not be written back)


def encode_event(event: str, **fields) -> bytes:
    """One status line: ``{"event": ..., **fields}`` as JSON, newline-terminated (values
    JSON cannot hold are written as their ``str``), and newline-led: an unfinished line the
    submission left on the pipe ends there instead of swallowing the event."""
    return ("\n" + json.dumps({"event": event, **fields}, default=str) + "\n").encode("utf-8")


def decode_events(pending: bytes) -> tuple[list[dict], bytes]:
    """The events of the complete lines in ``pending`` and the unfinished rest to keep.

    Whatever the submission writes on the pipe cannot stop the judge: a line longer than
    ``LINE_MAX_BYTES`` is dropped whole (and an unfinished rest never kept beyond it), a
    line that does not parse for any reason (bad JSON, bad UTF-8, nesting deep enough for
    a RecursionError) is dropped, and only flat-enough objects with a string ``event``
    are kept.
    """
    *lines, rest = pending.split(b"\n")
    if len(rest) > LINE_MAX_BYTES:
        rest = b""  # a line that never ends: dropped, like any over-long line
    events = []
    for line in lines:
        if len(line) > LINE_MAX_BYTES:
            continue
        try:
            event = json.loads(line)
        except Exception:  # noqa: BLE001 - any parse failure is the submission's noise
            continue
        kept = isinstance(event, dict) and isinstance(event.get("event"), str)
        if kept and _depth(event) <= MAX_NESTING:
            events.append(event)
    return events, rest


def _depth(value: object) -> int:
    """How deeply ``value`` nests lists and objects (iterative: no recursion to exhaust)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            if depth > MAX_NESTING:
                return depth
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return deepest


def first_error(events: list[dict]) -> str | None:
    """The ``error`` of the first error event: why the child stopped, in its words (a
    string, whatever the line held)."""
    errors = [e for e in events if e.get("event") == EVENT_ERROR]
    if not errors:
        return None
    error = errors[0].get("error")
    return error if isinstance(error, str) else str(error)[:1000]
