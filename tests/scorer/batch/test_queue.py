"""The queue on disk: transitions, retries, what a new driver finds, refusals, the lock."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from scorer.batch import queue as q
from scorer.batch.results import counts
from scorer.batch.submissions import Submission
from scorer.errors import LumeError

SCORED_RUN = {
    "status": "ok",
    "scored": True,
    "scores": None,
    "ended_by": "returned",
    "reason": None,
}
SCORES = {"final_score": 0.5}


def _state(name: str = "alpha") -> q.State:
    return q.State(name, "team", f"/subs/{name}.py", "0" * 64)


def _sub(tmp_path: Path, name: str, text: str = "x = 1\n") -> Submission:
    path = tmp_path / "subs" / f"{name}.py"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    from scorer.batch.submissions import file_sha256

    return Submission(name, name, path, file_sha256(path))


def test_a_scored_run_goes_on_to_scoring_then_is_done():
    state = q.submitted(_state(), q.UNLEARN, 100.0)
    assert (state.state, state.phase, len(state.attempts)) == (q.RUNNING, q.UNLEARN, 1)
    report = {"started_at": "s", "ended_at": "e", "node": "n1", "gpu_seconds": 80.0}
    state = q.judged(state, SCORED_RUN, 110.0, report)
    assert (state.state, state.phase, state.status) == (q.PENDING, q.SCORE, "ok")
    assert state.attempts[0].outcome == "finished" and state.attempts[0].node == "n1"
    state = q.submitted(state, q.SCORE, 120.0)
    state = q.judged(state, {**SCORED_RUN, "scores": SCORES}, 130.0, {"gpu_seconds": 10.0})
    assert (state.state, state.status, state.lost) == (q.DONE, "ok", 0)
    assert state.gpu_seconds == 90.0
    assert [a.phase for a in state.attempts] == [q.UNLEARN, q.SCORE]


@pytest.mark.parametrize("status", ["failed", "oom", "invalid", "timeout"])
def test_a_submissions_own_failure_is_final(status):
    state = q.submitted(_state(), q.UNLEARN, 1.0)
    record = {"status": status, "scored": False, "scores": None, "reason": "its own"}
    state = q.judged(state, record, 2.0)
    assert (state.state, state.status, state.reason) == (q.DONE, status, "its own")


@pytest.mark.parametrize("retries", [0, 1, 2, 3])
def test_lost_attempts_are_retried_then_recorded_as_an_infrastructure_failure(retries: int):
    """``--retries N``: N lost attempts are each retried (pending again); the next one fails
    the submission. Checked after every loss, at and on both sides of the boundary."""
    state = _state()
    for attempt in range(1, retries + 1):
        state = q.lost(q.submitted(state, q.UNLEARN, 1.0), "WorkerCrashedError: gone", retries, 2.0)
        assert (state.state, state.lost, state.reason) == (q.PENDING, attempt, None), attempt
    state = q.lost(q.submitted(state, q.UNLEARN, 1.0), "WorkerCrashedError: gone", retries, 2.0)
    assert (state.state, state.lost, state.status) == (q.FAILED, retries + 1, None)
    assert state.reason == (
        f"infrastructure failure after {retries + 1} lost attempt(s): WorkerCrashedError: gone"
    )
    assert [a.outcome for a in state.attempts] == ["lost: WorkerCrashedError: gone"] * (retries + 1)


def test_one_lost_attempt_with_one_retry_is_pending_again():
    state = q.lost(q.submitted(_state(), q.UNLEARN, 1.0), "NodeDiedError: node 1", 1, 2.0)
    assert (state.state, state.phase, state.lost) == (q.PENDING, q.UNLEARN, 1)
    assert state.reason is None


def test_a_lost_scoring_is_retried_as_scoring_only():
    state = q.judged(q.submitted(_state(), q.UNLEARN, 1.0), SCORED_RUN, 2.0)
    state = q.lost(q.submitted(state, q.SCORE, 3.0), "NodeDiedError: node 2", 2, 4.0)
    assert (state.state, state.phase, state.lost) == (q.PENDING, q.SCORE, 1)


def test_finishes_and_judge_trouble_read_run_json():
    unlearning = q.submitted(_state(), q.UNLEARN, 1.0)
    scoring = replace(unlearning, phase=q.SCORE)
    assert not q.finishes(unlearning, None)
    assert q.finishes(unlearning, SCORED_RUN)
    assert not q.finishes(scoring, SCORED_RUN)  # scored but its scores are not there yet
    assert q.finishes(scoring, {**SCORED_RUN, "scores": SCORES})
    assert q.finishes(scoring, {**SCORED_RUN, "scored": False, "status": "invalid"})
    trouble = {**SCORED_RUN, "ended_by": "judge-error", "reason": "no supervisor"}
    assert q.judge_trouble(trouble) == "the judge could not finish the run: no supervisor"
    assert q.judge_trouble(SCORED_RUN) is None


def test_a_new_driver_keeps_finished_tasks_and_restarts_the_rest():
    running = q.submitted(_state(), q.UNLEARN, 1.0)
    # finished while no driver listened: kept, never rerun
    kept = q.recovered(running, SCORED_RUN, 5.0)
    assert (kept.state, kept.phase, kept.lost) == (q.PENDING, q.SCORE, 0)
    assert kept.attempts[-1].outcome == "finished"
    # died with the old driver: pending again, not counted against --retries
    again = q.recovered(running, None, 5.0)
    assert (again.state, again.phase, again.lost) == (q.PENDING, q.UNLEARN, 0)
    assert again.attempts[-1].outcome == "interrupted: the driver stopped"
    done = q.judged(running, {**SCORED_RUN, "scored": False, "status": "failed"}, 2.0)
    assert q.recovered(done, None, 5.0) == done


def test_states_are_written_atomically_and_read_back(tmp_path):
    queue = q.Queue(tmp_path / "results")
    sub = _sub(tmp_path, "alpha")
    [state] = queue.open([sub])
    assert state.state == q.PENDING and state.submission_sha256 == sub.sha256
    state = q.lost(q.submitted(state, q.UNLEARN, 1.0), "gone", 2, 2.0)
    queue.write(state)
    assert queue.read("alpha") == state
    assert json.loads(queue.state_path("alpha").read_text())["format"] == q.FORMAT
    assert not list(queue.state_path("alpha").parent.glob("*.tmp*"))
    assert queue.open([sub]) == [state]  # a second driver finds it as it was left


def test_a_changed_submission_or_a_stray_entry_is_refused(tmp_path):
    queue = q.Queue(tmp_path / "results")
    queue.open([_sub(tmp_path, "alpha"), _sub(tmp_path, "beta")])
    with pytest.raises(LumeError, match="alpha.py: changed since it was queued as 'alpha'"):
        queue.open([_sub(tmp_path, "alpha", "x = 2\n"), _sub(tmp_path, "beta")])
    with pytest.raises(LumeError, match="holds 'beta', which is not among the submissions"):
        queue.open([_sub(tmp_path, "alpha")])


def test_a_queue_of_another_track_or_budget_is_refused(tmp_path):
    queue = q.Queue(tmp_path / "results")
    queue.results.mkdir()
    settings = {"track": "mini", "time_limit": 300.0}
    queue.check_settings(settings)  # nothing there yet
    queue.write_settings(settings)
    queue.check_settings(dict(settings))
    with pytest.raises(LumeError, match="holds the queue of track 'mini', not '7B'"):
        queue.check_settings({**settings, "track": "7B"})
    with pytest.raises(LumeError, match="started with time_limit = 300.0, not 60"):
        queue.check_settings({**settings, "time_limit": 60})


def test_one_driver_per_queue(tmp_path):
    first, second = q.Queue(tmp_path / "r"), q.Queue(tmp_path / "r")
    first.lock()
    try:
        with pytest.raises(LumeError, match="another lume-score batch is driving"):
            second.lock()
    finally:
        first.unlock()
    second.lock()  # free again once the first lets go
    second.unlock()


def test_a_lost_attempts_output_is_moved_aside_never_deleted(tmp_path):
    queue = q.Queue(tmp_path / "r")
    run = queue.run_dir("alpha")
    run.mkdir(parents=True)
    (run / "submission.log").write_text("partial")
    moved = queue.move_aside("alpha", run, "attempt-1")
    assert moved == tmp_path / "r" / "alpha" / "lost-1-attempt-1"
    assert (moved / "submission.log").read_text() == "partial" and not run.exists()
    run.mkdir()
    assert queue.move_aside("alpha", run, "attempt-1").name == "lost-2-attempt-1"
    assert queue.move_aside("alpha", run, "attempt-3") is None  # nothing to move


def test_a_damaged_state_file_is_one_line(tmp_path):
    queue = q.Queue(tmp_path / "r")
    path = queue.state_path("alpha")
    path.parent.mkdir(parents=True)
    path.write_text('{"format": 1, "name": "alpha"}')
    with pytest.raises(LumeError, match="state.json: not a batch state file"):
        queue.read("alpha")


def test_counts_for_the_progress_display():
    base = _state()
    states = [
        base,
        q.submitted(replace(base, name="b"), q.UNLEARN, 1.0),
        q.submitted(replace(base, name="c", phase=q.SCORE), q.SCORE, 1.0),
        replace(base, name="d", state=q.DONE, status="ok"),
        replace(base, name="e", state=q.DONE, status="timeout"),
        replace(base, name="f", state=q.DONE, status="failed"),
        replace(base, name="g", state=q.FAILED),
        replace(
            base,
            name="h",
            state=q.DONE,
            status="ok",
            attempts=(q.Attempt(1, q.UNLEARN, "t", gpu_seconds=7200.0),),
        ),
    ]
    c = counts(states)
    assert (c.total, c.pending, c.unlearning, c.scoring) == (8, 1, 1, 1)
    assert (c.done, c.failed, c.finished) == (3, 2, 5)  # a timeout with a checkpoint is scored
    assert c.gpu_hours == 2.0
