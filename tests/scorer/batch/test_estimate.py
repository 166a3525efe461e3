"""The organizer's wall-time arithmetic, and what each task asks of the cluster."""

from __future__ import annotations

import pytest

from scorer.batch.estimate import estimate
from scorer.batch.resources import Request, fits, requests
from scorer.errors import LumeError

HOUR = 3600.0


@pytest.mark.parametrize(
    ("nodes", "run_waves", "score_waves", "wall_hours"),
    [(1, 100, 13, 106.5), (4, 25, 4, 27.0), (10, 10, 2, 11.0), (25, 4, 1, 4.5)],
)
def test_the_7b_track_on_8_gpu_nodes(nodes, run_waves, score_waves, wall_hours):
    """docs/organizers.md's table: 100 submissions, 1 h on 8 GPUs each, scoring 30 min on one GPU;
    no GPU left beside a run, so scorings follow the runs, 8 at a time per node."""
    e = estimate(100, nodes, 8, 8, HOUR, 0.5 * HOUR)
    assert (e.run_waves, e.score_waves) == (run_waves, score_waves)
    assert e.wall_hours == pytest.approx(wall_hours)
    assert e.gpu_hours == pytest.approx(100 * (8 + 0.5))


def test_scoring_overlaps_the_runs_when_gpus_are_left_beside_them():
    # 4-GPU runs on 9-GPU nodes: 2 runs + 1 scoring GPU, which keeps up (2 x 30 min per hour)
    e = estimate(100, 5, 9, 4, HOUR, 0.5 * HOUR)
    assert (e.run_waves, e.score_waves) == (10, 0)
    assert e.wall_hours == pytest.approx(10.5)  # only the last scoring adds
    # scoring slower than the runs it follows: the spare GPU cannot keep up
    slow = estimate(100, 5, 9, 4, HOUR, 1.5 * HOUR)
    assert slow.score_waves == 3 and slow.wall_hours == pytest.approx(10 + 4.5)


def test_an_estimate_refuses_what_cannot_run():
    with pytest.raises(LumeError, match="cannot hold a run of 8 GPUs"):
        estimate(10, 2, 4, 8, HOUR, HOUR)
    with pytest.raises(LumeError, match="at least one submission and one node"):
        estimate(0, 2, 8, 8, HOUR, HOUR)


def test_requests_from_the_track():
    gpu = requests(8, 16, 200.0)
    assert gpu.unlearn == Request(16, 8, 200 * 10**9)
    assert gpu.score == Request(16, 1, None)
    assert gpu.unlearn.ray_options() == {
        "num_cpus": 16,
        "num_gpus": 8,
        "max_retries": 0,
        "memory": 200 * 10**9,
    }
    cpu = requests(0, 1, None)
    assert (cpu.unlearn.num_gpus, cpu.score.num_gpus) == (0, 0)
    assert "memory" not in cpu.unlearn.ray_options()
    with pytest.raises(LumeError, match="--cpus 0: must be positive"):
        requests(0, 0, None)


def test_a_task_fits_only_on_one_node_that_holds_it_all():
    nodes = [
        {"Alive": True, "Resources": {"CPU": 64.0, "GPU": 4.0, "memory": 5e11}},
        {"Alive": False, "Resources": {"CPU": 64.0, "GPU": 8.0, "memory": 5e11}},
    ]
    assert not fits(Request(8, 8), nodes)  # 4 + 4 GPUs on two nodes, or a dead node
    assert fits(Request(8, 4), nodes)
    assert not fits(Request(8, 4, int(6e11)), nodes)
