"""The child's status pipe and exit codes, as the child writes them and the judge reads them."""

from __future__ import annotations

import os
from pathlib import Path

from scorer.sandbox.child import StatusPipe
from scorer.sandbox.protocol import (
    EXIT_IMPORT_FAILED,
    EXIT_ISOLATION_FAILED,
    EXIT_NO_UNLEARN,
    EXIT_RAISED,
    EXIT_RETURNED,
    LINE_MAX_BYTES,
    REASONS,
    decode_events,
    encode_event,
    first_error,
)

ISOLATION = {"event": "isolation", "user": {"uid": 65534}}
ERROR = {"event": "error", "phase": "import", "error": "SyntaxError: invalid syntax"}


def test_events_are_read_back_wherever_the_pipe_splits_them():
    data = encode_event("isolation", user={"uid": 65534}) + encode_event(
        "error", phase="import", error="SyntaxError: invalid syntax"
    )
    for cut in range(len(data) + 1):
        first, pending = decode_events(data[:cut])
        second, rest = decode_events(pending + data[cut:])
        assert first + second == [ISOLATION, ERROR] and rest == b""


def test_noise_on_the_pipe_is_dropped_and_an_unfinished_line_kept():
    pending = b"not json\n[1, 2]\n" + encode_event("started") + b"\xff\xfe\n" + b'{"event": "ret'
    events, rest = decode_events(pending)
    assert events == [{"event": "started"}]
    assert rest == b'{"event": "ret'


def test_values_json_cannot_hold_are_sent_as_text():
    events, _ = decode_events(encode_event("error", error=Path("/x/y")))
    assert events == [{"event": "error", "error": "/x/y"}]


def test_the_first_error_is_the_one_that_explains():
    assert first_error([ISOLATION, ERROR, {**ERROR, "error": "later"}]) == ERROR["error"]
    assert first_error([ISOLATION, {"event": "returned"}]) is None


def test_the_childs_status_pipe_writes_lines_the_supervisor_reads():
    read_end, write_end = os.pipe()
    try:
        pipe = StatusPipe(write_end)
        assert not os.get_inheritable(write_end)  # programs the submission starts lack it
        pipe.send("error", phase="import", error="SyntaxError: invalid syntax")
        pipe.send("returned")
        data = os.read(read_end, 1 << 16)
    finally:
        os.close(read_end)
        os.close(write_end)
    assert decode_events(data) == ([ERROR, {"event": "returned"}], b"")


def test_each_failure_exit_code_has_a_reason_and_none_reads_as_a_signal():
    failures = {EXIT_RAISED, EXIT_IMPORT_FAILED, EXIT_NO_UNLEARN, EXIT_ISOLATION_FAILED}
    assert set(REASONS) == failures and len(failures) == 4
    assert EXIT_RETURNED == 0 and EXIT_RETURNED not in REASONS
    assert all(0 < code < 128 for code in failures)  # 128+N is how shells report signal N


def test_whatever_the_submission_writes_on_the_pipe_cannot_stop_the_judge():
    """Deep nesting (RecursionError, not ValueError), over-long and never-ending lines,
    bad UTF-8, objects without a string event, an error that is not a string."""
    deep = b"[" * 100_000 + b"]" * 100_000
    nested = b'{"event": "error", "x": ' + b"[" * 40 + b"]" * 40 + b"}"
    long_line = b'{"event": "error", "error": "' + b"x" * (LINE_MAX_BYTES + 10) + b'"}'
    noise = [deep, nested, long_line, b"\xff\xfe{", b'{"event": 3}', b'{"event": "error"']
    events, rest = decode_events(b"\n".join(noise) + b"\n" + encode_event("started"))
    assert events == [{"event": "started"}] and rest == b""
    events, rest = decode_events(b"y" * (LINE_MAX_BYTES + 1))  # a line that never ends
    assert events == [] and rest == b""
    assert first_error([{"event": "error", "error": {"a": [1]}}]) == "{'a': [1]}"
