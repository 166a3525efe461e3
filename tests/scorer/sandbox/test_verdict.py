"""The verdict: status, reason and whether a run is scored, from how it ended."""

from __future__ import annotations

from scorer.sandbox.protocol import EXIT_NO_UNLEARN, EXIT_RAISED, REASONS
from scorer.sandbox.verdict import STATUSES, Verdict, decide


def _supervision(**fields) -> dict:
    base = {"ended_by": "returned", "exit_code": 0, "events": [], "start": 0.0}
    return {**base, "deadline": 60.0, "memory": {"limit_bytes": 1}, **fields}


def test_verdicts():
    assert decide(_supervision(), True, "score") == ("ok", None, True)
    assert decide(_supervision(), False, "score")[0:3:2] == ("invalid", False)
    timeout = _supervision(ended_by="timeout", exit_code=-9)
    assert decide(timeout, True, "score")[0::2] == ("timeout", True)
    assert decide(timeout, True, "discard")[0::2] == ("timeout", False)
    assert decide(timeout, False, "score")[0::2] == ("timeout", False)
    assert decide(_supervision(ended_by="oom", exit_code=-9), True, "score")[0::2] == (
        "oom",
        False,
    )
    crashed = decide(_supervision(ended_by="exited", exit_code=-11), True, "score")
    assert crashed == ("failed", "the submission was killed by SIGSEGV", False)
    through_bwrap = decide(_supervision(ended_by="exited", exit_code=137), True, "score")
    assert through_bwrap.reason == "the submission was killed by SIGKILL"
    judge = decide(_supervision(ended_by="judge-error", judge_error="exit code 1"), True, "score")
    assert judge == ("judge-error", "the judge could not supervise the run: exit code 1", False)
    assert decide(_supervision(ended_by="exited", exit_code=3), True, "score")[1] == (
        "the submission exited with code 3"
    )


def test_a_verdict_reads_by_name_and_its_status_is_a_known_one():
    verdict = decide(_supervision(), True, "score")
    assert isinstance(verdict, Verdict)
    assert (verdict.status, verdict.reason, verdict.scored) == ("ok", None, True)
    assert verdict.status in STATUSES


def test_a_failure_reason_adds_the_first_error_the_child_reported():
    events = [
        {"event": "started"},
        {"event": "error", "phase": "unlearn", "error": "ValueError: first"},
        {"event": "error", "phase": "unlearn", "error": "ValueError: second"},
    ]
    raised = _supervision(ended_by="exited", exit_code=EXIT_RAISED, events=events)
    assert decide(raised, True, "score") == ("failed", "unlearn() raised: ValueError: first", False)
    silent = _supervision(ended_by="exited", exit_code=EXIT_NO_UNLEARN)
    assert decide(silent, True, "score") == ("failed", REASONS[EXIT_NO_UNLEARN], False)


def test_timeout_interrupt_and_gpu_memory_reasons_say_what_happened():
    timeout = _supervision(ended_by="timeout", exit_code=-15)
    assert decide(timeout, True, "score").reason == (
        "still running at the time limit (60 s): process tree ended"
    )
    assert decide(timeout, False, "score").reason.endswith("; the checkpoint present is not valid")
    interrupted = _supervision(ended_by="interrupted", exit_code=None)
    assert decide(interrupted, True, "score") == (
        "failed",
        "the run was interrupted by the organizer",
        False,
    )
    gpu = _supervision(ended_by="oom", memory={"limit_bytes": 5, "gpu_over_limit": True})
    assert decide(gpu, True, "score").reason == "GPU memory passed the limit (5 bytes)"
