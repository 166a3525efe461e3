"""The driver: feed Ray from the queue on disk, record every outcome there, end with a leaderboard.

The driver holds nothing the disk does not: kill it at any moment and start the same
command again. A task that finished while no driver listened is kept (its ``run.json``
says so); one that was running goes back to pending. While the driver runs, a task whose
worker, node or judge was lost is started again (its partial output moved aside, never
deleted) up to ``retries`` times, then recorded as an infrastructure failure with the
reason. A submission's own verdict (``ok``, ``failed``, ``oom``, ``timeout``, ``invalid``)
is final. Ray is imported here, inside the functions, never at import time.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from scorer.batch import queue as q
from scorer.batch.resources import Requests, describe, fits, largest_node
from scorer.batch.results import Counts, counts, write_leaderboard
from scorer.batch.submissions import Submission
from scorer.batch.tasks import score_task, unlearn_task
from scorer.errors import LumeError
from scorer.leaderboard import Standing
from scorer.safe_text import one_line
from scorer.sandbox.options import RunOptions

LOCAL_OBJECT_STORE_BYTES = 128 * 2**20  # tasks pass options and small reports only
# ray.init on an address where nothing listens retries for some twelve minutes (20 tries
# of a 5 s connection and a 30 s wait): a plain TCP connection is tried first, this long
ADDRESS_CONNECT_SECONDS = 10.0
WAIT_SECONDS = 1.0  # how often the progress display is refreshed while tasks run


@dataclass(frozen=True)
class Batch:
    """Everything one batch needs; ``base`` is the run's options for any submission (its
    ``submission`` and ``out`` are replaced per submission; ``evaluate`` is the scoring)."""

    results: Path
    submissions: tuple[Submission, ...]
    base: RunOptions
    requests: Requests
    settings: dict  # what the queue was started with (RESULTS/batch.json)
    mmlu_threshold: float | None
    title: str = "Leaderboard"
    retries: int = 2
    max_parallel: int | None = None
    address: str | None = None
    local_cpus: int | None = None


@dataclass(frozen=True)
class Outcome:
    states: list[q.State]
    standings: list[Standing]


Notify = Callable[[Counts, list[q.State]], None]


def _ignore(_counts: Counts, _states: list[q.State]) -> None:
    pass


def check_results_dir(results: Path) -> None:
    """``--out`` is new, empty, or a batch's own results directory."""
    if results.exists() and not results.is_dir():
        raise LumeError(f"--out {results}: exists and is not a directory")
    if results.is_dir() and any(results.iterdir()) and not (results / "batch.json").is_file():
        raise LumeError(f"--out {results}: not empty and holds no batch.json (not a batch's queue)")


def run_batch(batch: Batch, notify: Notify = _ignore) -> Outcome:
    """Judge every submission of ``batch`` (continuing its queue on disk) and rank them."""
    check_results_dir(batch.results)
    # a new queue joins Ray and checks the cluster first: bad input leaves nothing behind
    fresh = not batch.results.exists()
    started_here = connect(batch.address, batch.local_cpus) if fresh else False
    queue = q.Queue(batch.results)
    try:
        if fresh:
            _check_cluster(batch)
        queue.lock()
        queue.check_settings(batch.settings)
        states = queue.open(list(batch.submissions))
        queue.write_settings(batch.settings)
        states = [_recover(queue, s) for s in states]
        if any(s.state in (q.PENDING, q.RUNNING) for s in states):
            states = _drive(batch, queue, states, notify, checked=fresh)
        notify(counts(states), states)
        standings = write_leaderboard(queue, states, batch.mmlu_threshold, batch.title)
        return Outcome(states, standings)
    finally:
        queue.unlock()
        if started_here:
            _shutdown()


def _shutdown() -> None:
    import ray

    ray.shutdown()


def _recover(queue: q.Queue, state: q.State) -> q.State:
    new = q.recovered(state, queue.run_record(state.name), time.time())
    if new != state:
        queue.write(new)
    return new


# ----------------------------------------------------------------- Ray


def connect(address: str | None, local_cpus: int | None) -> bool:
    """Join the cluster at ``address`` (``auto``: the one this machine is part of), or start
    a local one; True when this call started the connection (and must end it)."""
    import ray

    if ray.is_initialized():
        return False
    quiet = {"log_to_driver": False, "logging_level": "WARNING"}
    try:
        if address:
            check_reachable(address)
            ray.init(address=address, **quiet)
        else:
            ray.init(
                num_cpus=local_cpus or os.cpu_count(),
                include_dashboard=False,
                object_store_memory=LOCAL_OBJECT_STORE_BYTES,
                **quiet,
            )
    except (ConnectionError, ValueError, RuntimeError) as err:
        where = f"--address {address}" if address else "a local Ray instance"
        raise LumeError(f"{where}: cannot start or join Ray ({one_line(err)})") from None
    return True


def address_endpoint(address: str) -> tuple[str, int] | None:
    """``host:port`` (or ``ray://host:port``, Ray Client) of ``--address``; None for
    ``auto``, ``local`` or a form Ray itself will refuse."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return None
    return host.strip("[]"), int(port)  # [::1]:6379 -> ::1


def check_reachable(address: str) -> None:
    """Refuse at once an address where nothing accepts a connection (a typo, a head node
    that is down), rather than let ``ray.init`` retry for minutes."""
    endpoint = address_endpoint(address)
    if endpoint is None:
        return
    try:
        with socket.create_connection(endpoint, timeout=ADDRESS_CONNECT_SECONDS):
            pass
    except OSError as err:
        reason = one_line(err) if str(err) else type(err).__name__
        raise LumeError(
            f"--address {address}: nothing accepts a connection at {endpoint[0]}:{endpoint[1]} "
            f"({reason}); is the Ray head node up (ray start --head)?"
        ) from None


def _check_cluster(batch: Batch) -> None:
    """A task no node can hold would wait forever: refuse it on a local instance; on a
    joined cluster (an autoscaler may add nodes) say so and go on."""
    import ray

    nodes = ray.nodes()
    for what, request in (("unlearn()", batch.requests.unlearn), ("scoring", batch.requests.score)):
        if fits(request, nodes):
            continue
        message = (
            f"no node of the Ray cluster can run {what} ({describe(request)}; the largest "
            f"node has {largest_node(nodes)})"
        )
        if not batch.address:
            raise LumeError(message)
        import warnings

        warnings.warn(message + "; its tasks wait until such a node joins", stacklevel=2)


def lost_reason(err: BaseException) -> str:
    """A Ray error as one line: the task's own exception, or what Ray says was lost."""
    cause = getattr(err, "cause", None)
    if isinstance(cause, BaseException):
        return f"{type(err).__name__} ({one_line(cause)})"
    return one_line(err)


def _drive(
    batch: Batch, queue: q.Queue, states: list[q.State], notify: Notify, checked: bool
) -> list[q.State]:
    import ray
    from ray.exceptions import RayError

    started_here = connect(batch.address, batch.local_cpus)  # False: already joined
    try:
        if not checked:
            _check_cluster(batch)
        unlearn, score = ray.remote(unlearn_task), ray.remote(score_task)
        unlearn_options = batch.requests.unlearn.ray_options()
        score_options = batch.requests.score.ray_options()
        by_name = {s.name: s for s in states}
        order = [s.name for s in states]
        in_flight: dict = {}

        def update(state: q.State) -> None:
            queue.write(state)
            by_name[state.name] = state

        while True:
            for name in order:
                state = by_name[name]
                if state.state != q.PENDING:
                    continue
                unlearning = sum(by_name[n].phase == q.UNLEARN for n in in_flight.values())
                run_dir = queue.run_dir(name)
                if state.phase == q.UNLEARN:
                    if batch.max_parallel and unlearning >= batch.max_parallel:
                        continue
                    queue.move_aside(name, run_dir, f"attempt-{len(state.attempts)}")
                    options = replace(batch.base, submission=Path(state.submission), out=run_dir)
                    update(q.submitted(state, q.UNLEARN, time.time()))
                    task = unlearn.options(**unlearn_options, name=f"unlearn:{name}")
                    ref = task.remote(options, batch.requests.unlearn.num_gpus)
                else:
                    queue.move_aside(name, run_dir / "evaluation", "evaluation")
                    update(q.submitted(state, q.SCORE, time.time()))
                    task = score.options(**score_options, name=f"score:{name}")
                    ref = task.remote(run_dir, batch.base.evaluate, batch.requests.score.num_gpus)
                in_flight[ref] = name
            current = [by_name[n] for n in order]
            notify(counts(current), current)
            if not in_flight:
                return current
            ready, _ = ray.wait(list(in_flight), num_returns=1, timeout=WAIT_SECONDS)
            for ref in ready:
                name = in_flight.pop(ref)
                report, error = None, None
                try:
                    report = ray.get(ref)
                except RayError as err:
                    error = lost_reason(err)
                update(_outcome(queue, by_name[name], report, error, batch.retries))
    finally:
        if started_here:
            _shutdown()


def _outcome(
    queue: q.Queue, state: q.State, report: dict | None, error: str | None, retries: int
) -> q.State:
    """What a task's end means: its ``run.json`` decides when it finished the phase, even
    if the worker died just after writing it (a finished run is never rerun); otherwise
    the attempt was lost."""
    record = queue.run_record(state.name)
    now = time.time()
    if q.finishes(state, record):
        trouble = q.judge_trouble(record)
        if trouble is None:
            return q.judged(state, record, now, report)
        error = trouble
    elif error is None:
        run_json = queue.run_dir(state.name) / "run.json"
        error = (
            f"the task ended on {(report or {}).get('node')} but {run_json} is not finished "
            "here: the results directory must be on a file system every node shares"
        )
    return q.lost(state, error, retries, now, report)
