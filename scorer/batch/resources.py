"""What each task asks of the cluster, so that Ray never puts two tasks on one GPU.

Unlearning asks for the track's GPUs (all on one node, as the official runs had one 8-GPU
node), ``--cpus`` CPUs and, with ``--memory-limit``, that much memory (also the run's own
cap); scoring asks for one GPU (none on a CPU track) and ``--cpus`` CPUs. Ray holds the
resources of a task until it ends, and a scoring task is a task of its own: the GPUs of a
finished run go to the next run while the previous one is being scored.
"""

from __future__ import annotations

from dataclasses import dataclass

from scorer.errors import LumeError

GB = 10**9


@dataclass(frozen=True)
class Request:
    """One task's resources, as ``ray.remote(...).options(**request.ray_options())`` takes."""

    num_cpus: float
    num_gpus: int
    memory_bytes: int | None = None

    def ray_options(self) -> dict:
        options = {"num_cpus": self.num_cpus, "num_gpus": self.num_gpus, "max_retries": 0}
        if self.memory_bytes:
            options["memory"] = self.memory_bytes
        return options  # max_retries 0: the driver counts retries itself, on disk


@dataclass(frozen=True)
class Requests:
    unlearn: Request
    score: Request


def requests(track_gpus: int, cpus: float, memory_limit_gb: float | None) -> Requests:
    """The two tasks' requests from the track's GPU count and the batch's options."""
    if not cpus > 0:
        raise LumeError(f"--cpus {cpus}: must be positive")
    memory = int(memory_limit_gb * GB) if memory_limit_gb else None
    return Requests(
        unlearn=Request(cpus, track_gpus, memory),
        score=Request(cpus, 1 if track_gpus else 0),
    )


def fits(request: Request, nodes: list[dict]) -> bool:
    """Whether one alive node of ``ray.nodes()`` could ever hold the task."""
    for node in nodes:
        if not node.get("Alive", node.get("alive", True)):
            continue
        have = node.get("Resources", {})
        if (
            have.get("CPU", 0) >= request.num_cpus
            and have.get("GPU", 0) >= request.num_gpus
            and (not request.memory_bytes or have.get("memory", 0) >= request.memory_bytes)
        ):
            return True
    return False


def describe(request: Request) -> str:
    memory = f", {request.memory_bytes / GB:g} GB" if request.memory_bytes else ""
    return f"{request.num_cpus:g} CPU, {request.num_gpus} GPU{memory}"


def largest_node(nodes: list[dict]) -> str:
    alive = [n.get("Resources", {}) for n in nodes if n.get("Alive", True)]
    if not alive:
        return "no node"
    best = max(alive, key=lambda r: (r.get("GPU", 0), r.get("CPU", 0)))
    return f"{best.get('CPU', 0):g} CPU, {best.get('GPU', 0):g} GPU"
