"""``lume-score batch`` on a local Ray instance (2 CPUs), on the tiny track.

One module-wide Ray instance; two batches share it:
- four submissions (two baselines, one that raises, one that runs past the time limit)
  listed in a manifest, through the command, its driver SIGKILLed once a submission is
  done and started again: the final per-submission results and leaderboard are those of
  separate ``lume-score run --evaluate`` calls (the baseline pair) and of the rules
  (the one that raises is failed, the one past the limit is scored as a timeout), and what
  was finished before the kill is not run again;
- two well-behaved submissions with a Ray worker SIGKILLed during one's unlearn() run and
  one's scoring: both retried, the run that had finished never run again.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import needs
import pytest

from scorer import leaderboard as lb

from paths import REPO, SUBMISSIONS

TIME_LIMIT = "40"  # the baselines end well within it; the hanging one costs all of it


@pytest.fixture(scope="module")
def ray_address():
    """A local Ray instance for the module: 2 CPUs, no dashboard, a small object store."""
    ray = needs.ray()  # the cluster extra; CI installs it
    context = ray.init(
        num_cpus=2, include_dashboard=False, object_store_memory=96 * 2**20, log_to_driver=False
    )
    yield context.address_info["gcs_address"]
    ray.shutdown()


def _states(results: Path) -> dict[str, dict]:
    found = {}
    for path in results.glob("*/state.json"):
        try:
            found[path.parent.name] = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # replaced while read: the next look sees it
    return found


def _proctitle_pids(title: str) -> list[int]:
    pids = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/cmdline", "rb") as handle:
                    if handle.read().startswith(title.encode()):
                        pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def _batch_command(source: Path, results: Path, track: Path, address: str) -> list[str]:
    return [
        *(sys.executable, "-m", "scorer.cli", "batch", str(source)),
        *("--track", "mini", "--root", str(track), "--out", str(results)),
        *("--address", address, "--time-limit", TIME_LIMIT, "--grace", "1"),
        *("--max-parallel", "2", "--json"),
    ]


# ----------------------------------------------------------------- driver killed, restarted

TEAMS = {  # manifest order: the quick failure and the long one first, so the kill comes early
    "gamma": SUBMISSIONS / "raises.py",
    "delta": SUBMISSIONS / "saves_then_hangs.py",
    "alpha": REPO / "baselines" / "ga.py",
    "beta": REPO / "baselines" / "gd.py",
}


@pytest.fixture(scope="module")
def restarted(tiny_track, ray_address, tmp_path_factory):
    """The four submissions through the command; the driver SIGKILLed once one submission
    is done and another is not, then the same command again."""
    root = tmp_path_factory.mktemp("batch4")
    rows = []
    for team, source in TEAMS.items():
        shutil.copyfile(source, root / source.name)
        rows.append(f'[[submission]]\nteam = "{team}"\nfile = "{source.name}"\n')
    manifest = root / "submissions.toml"
    manifest.write_text("\n".join(rows))
    results = root / "results"
    command = _batch_command(manifest, results, tiny_track, ray_address)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    first = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    until, at_kill = time.time() + 300, None
    while time.time() < until and first.poll() is None:
        states = _states(results)
        done = [n for n, s in states.items() if s["state"] == "done"]
        if done and len(done) < len(TEAMS):
            first.send_signal(signal.SIGKILL)
            at_kill = states
            break
        time.sleep(0.2)
    first.wait()
    second = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    return {
        "results": results,
        "first_code": first.returncode,
        "at_kill": at_kill,
        "second": second,
    }


@pytest.fixture(scope="module")
def separate(tiny_track, tmp_path_factory):
    """The baseline pair through separate ``lume-score run --evaluate`` calls (at once)."""
    root = tmp_path_factory.mktemp("separate")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # as in a 1-CPU Ray task
    calls = {}
    for team in ("alpha", "beta"):
        command = [
            *(sys.executable, "-m", "scorer.cli", "run", str(TEAMS[team])),
            *("--out", str(root / team), "--track", "mini", "--root", str(tiny_track)),
            *("--time-limit", TIME_LIMIT, "--grace", "1", "--evaluate", "--json"),
        ]
        calls[team] = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    for team, call in calls.items():
        call.communicate(timeout=600)
        assert call.returncode == 0, team
    return root


def comparable(records: list[dict]) -> list[dict]:
    """Leaderboard records without what differs between two runs of the same submissions
    (where they ran, how long they took, how much memory)."""
    varying = ("source", "wall_seconds", "peak_memory_bytes", "gpu_hours", "allocated_gpu_hours")
    return [{k: v for k, v in r.items() if k not in varying} for r in records]


def _run(directory: Path) -> dict:
    return json.loads((directory / "run.json").read_text())


def test_the_driver_was_killed_mid_way_and_the_same_command_finished_the_queue(restarted):
    assert restarted["first_code"] == -signal.SIGKILL
    at_kill = restarted["at_kill"]
    assert at_kill is not None, "no submission was done before the first driver ended"
    second = restarted["second"]
    assert second.returncode == 0, second.stderr
    body = json.loads(second.stdout)
    rows = {row["name"]: row for row in body["submissions"]}
    assert set(rows) == set(TEAMS)
    assert all(row["state"] == "done" and row["lost"] == 0 for row in rows.values())
    states = _states(restarted["results"])
    for name, before in at_kill.items():
        if before["state"] == "done":  # finished before the kill: kept, never run again
            assert states[name]["attempts"] == before["attempts"]
    outcomes = [a["outcome"] for s in states.values() for a in s["attempts"]]
    assert "interrupted: the driver stopped" in outcomes  # what ran at the kill ran again
    assert {s["team"] for s in states.values()} == set(TEAMS)


def test_four_submissions_give_the_results_of_separate_runs(restarted, separate):
    results = restarted["results"]
    for team in ("alpha", "beta"):
        batch, alone = _run(results / team / "run"), _run(separate / team)
        keys = ("status", "reason", "scored", "exit_code", "ended_by", "scores")
        assert {k: batch[k] for k in keys} == {k: alone[k] for k in keys}, team
        assert batch["status"] == "ok" and batch["scores"]["final_score"] is not None
    raised = _run(results / "gamma" / "run")
    assert (raised["status"], raised["scored"], raised["scores"]) == ("failed", False, None)
    assert "deliberate failure in unlearn" in raised["reason"]
    late = _run(results / "delta" / "run")
    assert (late["status"], late["scored"]) == ("timeout", True)  # the checkpoint left is scored
    assert late["scores"]["final_score"] is not None


def test_the_leaderboard_is_that_of_separate_runs(restarted, separate):
    results = restarted["results"]
    written = json.loads((results / "leaderboard.json").read_text())
    entries = [lb.load_result(separate / team) for team in ("alpha", "beta")]
    entries += [replace(lb.load_result(results / t / "run"), name=t) for t in ("gamma", "delta")]
    threshold = json.loads((results / "batch.json").read_text())["settings"]["evaluation"]
    expected = lb.rank(entries, threshold["mmlu_threshold"])
    assert comparable(written["entries"]) == comparable(lb.to_records(expected))
    assert [e["name"] for e in written["entries"]][-1] == "gamma"  # not scored: last
    for fmt in lb.FORMATS:
        assert (results / f"leaderboard.{fmt}").read_text() == lb.render(
            lb.rank(
                [replace(lb.load_result(results / t / "run"), name=t) for t in TEAMS],
                threshold["mmlu_threshold"],
            ),
            fmt,
            "Leaderboard: mini track",
        )


# ----------------------------------------------------------------- workers killed


@pytest.fixture(scope="module")
def retried(tiny_track, ray_address, tmp_path_factory):
    """Two submissions; the worker scoring the first and the worker running the second's
    unlearn() are SIGKILLed once each."""
    from scorer.batch.driver import run_batch
    from scorer.batch.prepare import ClusterChoices, prepare_batch
    from scorer.sandbox.options import EvalChoices

    root = tmp_path_factory.mktemp("retry")
    subs = root / "subs"
    subs.mkdir()
    for name in ("well_behaved", "sleeps_then_saves"):
        shutil.copyfile(SUBMISSIONS / f"{name}.py", subs / f"{name}.py")
    batch = prepare_batch(
        subs,
        root / "results",
        "mini",
        tiny_track,
        run_options={"time_limit": float(TIME_LIMIT), "grace": 1.0},
        scoring=EvalChoices(),
        cluster=ClusterChoices(address=ray_address, max_parallel=1, retries=2),
    )
    outcome: dict = {}
    driver = threading.Thread(target=lambda: outcome.update(result=run_batch(batch)))
    driver.start()
    targets = {"ray::score:well_behaved": None, "ray::unlearn:sleeps_then_saves": None}
    # the unlearn() run is killed once the submission runs (its log is open), so that the
    # lost attempt has left output to move aside
    ready = {
        "ray::score:well_behaved": lambda: True,
        "ray::unlearn:sleeps_then_saves": (
            root / "results" / "sleeps_then_saves" / "run" / "submission.log"
        ).exists,
    }
    run_id_at_kill = None
    until = time.time() + 300
    while driver.is_alive() and time.time() < until and None in targets.values():
        for title, killed in targets.items():
            if killed is None and ready[title]() and (pids := _proctitle_pids(title)):
                if title.startswith("ray::score"):
                    run_id_at_kill = _run(root / "results" / "well_behaved" / "run")["run_id"]
                os.kill(pids[0], signal.SIGKILL)
                targets[title] = pids[0]
        time.sleep(0.05)
    driver.join(timeout=600)
    return {
        "outcome": outcome.get("result"),
        "killed": targets,
        "run_id_at_kill": run_id_at_kill,
        "results": root / "results",
    }


def test_a_worker_killed_during_unlearn_is_retried(retried):
    assert retried["killed"]["ray::unlearn:sleeps_then_saves"] is not None
    states = {s.name: s for s in retried["outcome"].states}
    state = states["sleeps_then_saves"]
    assert (state.state, state.status, state.lost) == ("done", "ok", 1)
    assert [a.phase for a in state.attempts] == ["unlearn", "unlearn", "score"]
    assert state.attempts[0].outcome.startswith("lost: WorkerCrashedError")
    moved = retried["results"] / "sleeps_then_saves" / "lost-1-attempt-1"
    assert moved.is_dir()  # the lost attempt's output, moved aside
    assert _run(retried["results"] / "sleeps_then_saves" / "run")["scores"] is not None


def test_a_retry_never_reruns_a_finished_run(retried):
    assert retried["killed"]["ray::score:well_behaved"] is not None
    state = {s.name: s for s in retried["outcome"].states}["well_behaved"]
    assert (state.state, state.status, state.lost) == ("done", "ok", 1)
    assert [a.phase for a in state.attempts] == ["unlearn", "score", "score"]
    assert state.attempts[1].outcome.startswith("lost: WorkerCrashedError")
    record = _run(retried["results"] / "well_behaved" / "run")
    assert record["run_id"] == retried["run_id_at_kill"]  # the same run, scored on retry
    assert record["scores"]["final_score"] is not None
    standings = retried["outcome"].standings
    # both copy the target: the same checkpoint bytes, the same scores, a shared rank
    assert [s.rank for s in standings] == [1, 1]
