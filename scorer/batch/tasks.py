"""The two Ray tasks of a submission: the budgeted run of ``unlearn()``, then scoring.

They run on a cluster's worker and talk to the driver through the results directory (a file
system every node shares) and a small report (times, node, GPU time). The first is
``lume-score run`` without ``--evaluate`` on the GPUs Ray granted the task; the second
scores the frozen checkpoint that ``run.json`` names, after checking it still holds the
bytes hashed when it was frozen, and writes the scores into ``run.json`` as ``lume-score run
--evaluate`` does. Plain functions: the driver wraps them with ``ray.remote``.
"""

from __future__ import annotations

import json
import socket
import time
from dataclasses import replace
from pathlib import Path

from scorer.batch.queue import now_iso
from scorer.sandbox.options import EvaluateOptions, RunOptions
from scorer.sandbox.record import write_record


def granted_gpus() -> tuple[int, ...]:
    """The GPUs Ray gave this task (physical indices), none outside a Ray worker."""
    try:
        import ray

        return tuple(int(i) for i in ray.get_gpu_ids())
    except Exception:  # noqa: BLE001 - not in a Ray worker, or no GPU support: no GPU
        return ()


def _report(started: float, gpus: int, **more) -> dict:
    ended = time.time()
    return {
        "started_at": now_iso(started),
        "ended_at": now_iso(ended),
        "node": socket.gethostname(),
        "gpu_seconds": gpus * (ended - started),
        **more,
    }


def unlearn_task(options: RunOptions, gpus: int) -> dict:
    """Run the submission under its budget (``options.evaluate`` is not used here); the
    sandbox is granted exactly the GPUs Ray reserved for the task."""
    from scorer.sandbox.runner import run_submission

    started = time.time()
    granted = granted_gpus()
    if len(granted) != gpus:
        raise RuntimeError(f"Ray granted GPUs {list(granted)}, the task asked for {gpus}")
    record = run_submission(replace(options, gpus=granted, evaluate=None))
    return _report(started, gpus, run_id=record["run_id"])


def score_task(out: Path, evaluate: EvaluateOptions, gpus: int) -> dict:
    """Score ``OUT/checkpoint`` as ``run --evaluate`` would have, and update ``OUT/run.json``."""
    from scorer.sandbox.runner import score_frozen

    started = time.time()
    run_path = out / "run.json"
    record = json.loads(run_path.read_text(encoding="utf-8"))
    record.update(score_frozen(out / "checkpoint", record["checkpoint_sha256"], evaluate, out))
    write_record(run_path, record)
    return _report(started, gpus, run_id=record["run_id"])
