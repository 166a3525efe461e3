"""A batch from the command line: submissions, the run's options from the track, checked first.

The run's options are built once, as ``lume-score run --track X --evaluate`` builds them
(``scorer.sandbox.options.build_options``), and checked once (``check_inputs``: model,
data, bubblewrap, the scoring inputs) before anything is written or Ray is started: bad
input is one line and exit 2. Each submission then gets its own ``submission`` and ``out``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path

from scorer.batch.driver import Batch, check_results_dir
from scorer.batch.queue import Queue
from scorer.batch.resources import requests
from scorer.batch.submissions import find_submissions
from scorer.errors import LumeError
from scorer.sandbox import options as rc
from scorer.tracks.track import load_track


def queue_settings(track_name: str, base: rc.RunOptions) -> dict:
    """What a queue is started with and a restart must repeat (``RESULTS/batch.json``)."""
    ev = base.evaluate
    evaluation = {
        "data": str(ev.data),
        "mia": None if ev.mia is None else str(ev.mia),
        "mmlu": None if ev.mmlu is None else str(ev.mmlu),
        **asdict(ev.settings),
    }
    return {
        "track": track_name,
        "model": str(base.model),
        "unlearned_fold": base.unlearned_fold,
        "time_limit": base.time_limit,
        "gpus": len(base.gpus),
        "memory_limit_gb": base.memory_limit_gb,
        "gpu_memory_limit_gb": base.gpu_memory_limit_gb,
        "on_timeout": base.on_timeout,
        "grace": base.grace,
        "isolation": base.isolation,
        "pass_env": list(base.pass_env),
        "evaluation": evaluation,
    }


@dataclass(frozen=True)
class ClusterChoices:
    """Where and how wide the batch runs (``--address``, ``--max-parallel``, ``--retries``,
    ``--cpus``, ``--local-cpus``)."""

    address: str | None = None
    max_parallel: int | None = None
    retries: int = 2
    cpus: float = 1.0
    local_cpus: int | None = None


def prepare_batch(
    source: Path,
    results: Path,
    track: str,
    root: Path,
    run_options: dict,
    scoring: rc.EvalChoices,
    cluster: ClusterChoices,
) -> Batch:
    """Every check a batch can make before it starts; the :class:`Batch` to run.
    ``run_options``: ``time_limit`` and the keyword options of ``build_options``."""
    spec = load_track(track)  # an unknown track is one line before anything else
    found = find_submissions(source)
    check_results_dir(results)
    Queue(results).check_track(spec.name)
    options = dict(run_options)
    time_limit = options.pop("time_limit", None)
    base = rc.build_options(
        found[0].path,
        results / ".unused",
        None,
        None,
        None,
        time_limit,
        None,
        track,
        root,
        scoring,
        **options,
    )
    base = rc.with_absolute_paths(base)
    rc.check_inputs(base)  # model, sets, budget, bubblewrap, the scoring inputs
    if cluster.retries < 0:
        raise LumeError(f"--retries {cluster.retries}: must not be negative")
    if cluster.max_parallel is not None and cluster.max_parallel < 1:
        raise LumeError(f"--max-parallel {cluster.max_parallel}: must be at least 1")
    return Batch(
        results=Path(results).absolute(),
        submissions=tuple(found),
        base=replace(base, submission=found[0].path),
        requests=requests(len(base.gpus), cluster.cpus, base.memory_limit_gb),
        settings=queue_settings(spec.name, base),
        mmlu_threshold=base.evaluate.settings.mmlu_threshold,
        title=f"Leaderboard: {spec.name} track",
        retries=cluster.retries,
        max_parallel=cluster.max_parallel,
        address=cluster.address,
        local_cpus=cluster.local_cpus,
    )
