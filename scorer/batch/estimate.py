"""How long a challenge takes on K nodes: the organizer's arithmetic, from the track's budget.

Each ``unlearn()`` run holds ``run_gpus`` GPUs of one node for at most the time limit; each
scoring holds ``score_gpus`` GPU(s) for ``score_seconds`` (an assumption the organizer
supplies: it depends on the model, the data and the GPU). A node fits
``gpus_per_node // run_gpus`` runs at once; the GPUs left beside them score. When they keep
up with the runs, scoring overlaps the next runs and only the last scoring adds to the
wall time; when no GPU is left beside a run (an 8-GPU run on an 8-GPU node), runs take the
nodes first (queued runs get freed GPUs before a scoring submitted after them) and the
scorings follow, every GPU scoring. Worst case: every run uses its whole time limit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scorer.errors import LumeError


@dataclass(frozen=True)
class Estimate:
    submissions: int
    nodes: int
    run_waves: int  # rounds of unlearn() runs across the cluster
    score_waves: int  # rounds of scorings after the runs (0: they overlap the runs)
    wall_seconds: float
    gpu_hours: float  # GPUs reserved x time, runs and scorings

    @property
    def wall_hours(self) -> float:
        return self.wall_seconds / 3600


def estimate(
    submissions: int,
    nodes: int,
    gpus_per_node: int,
    run_gpus: int,
    run_seconds: float,
    score_seconds: float,
    score_gpus: int = 1,
) -> Estimate:
    """Worst-case wall time of ``submissions`` runs + scorings on ``nodes`` equal nodes."""
    if submissions < 1 or nodes < 1:
        raise LumeError("an estimate needs at least one submission and one node")
    if not 1 <= run_gpus <= gpus_per_node or not 1 <= score_gpus <= gpus_per_node:
        raise LumeError(
            f"a node of {gpus_per_node} GPUs cannot hold a run of {run_gpus} GPUs "
            f"or a scoring of {score_gpus}"
        )
    slots = gpus_per_node // run_gpus
    beside = (gpus_per_node - slots * run_gpus) // score_gpus
    run_waves = math.ceil(submissions / (nodes * slots))
    if beside * run_seconds >= slots * score_seconds:  # scoring keeps up beside the runs
        score_waves, tail = 0, score_seconds
    else:
        score_waves = math.ceil(submissions / (nodes * (gpus_per_node // score_gpus)))
        tail = score_waves * score_seconds
    gpu_seconds = submissions * (run_gpus * run_seconds + score_gpus * score_seconds)
    return Estimate(
        submissions=submissions,
        nodes=nodes,
        run_waves=run_waves,
        score_waves=score_waves,
        wall_seconds=run_waves * run_seconds + tail,
        gpu_hours=gpu_seconds / 3600,
    )
