"""Spreading units of work over processes started by ``torchrun`` or ``accelerate launch``.

The work plan (which items form which batch) is computed identically on every rank, each
rank takes every ``world``-th unit, and the results are gathered to every rank. Since a
unit's computation does not depend on which rank runs it, the gathered result equals a
single process's. Without a launcher this is a world of one and nothing is initialised.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class World:
    """This process's rank among ``size`` processes, and its rank on its own machine."""

    rank: int
    size: int
    local_rank: int

    @property
    def is_main(self) -> bool:
        """The first process writes the outputs; the others only compute their share."""
        return self.rank == 0


def current_world() -> World:
    """This process's place, joining the process group the launcher set up if needed."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if size > 1 and not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend=backend)
    return World(rank, size, local_rank)


def device_for(world: World, requested: str) -> str:
    """``auto`` on a multi-GPU launch means this rank's own GPU."""
    if requested == "auto" and world.size > 1 and torch.cuda.is_available():
        return f"cuda:{world.local_rank}"
    return requested


def share(world: World, mine: dict) -> dict:
    """Every rank's ``{key: result}`` merged, on every rank: each computed its share, and
    every rank needs all of it to write (or return) the same scores."""
    if world.size == 1:
        return dict(mine)
    gathered: list[dict | None] = [None] * world.size
    dist.all_gather_object(gathered, mine)
    merged: dict = {}
    for part in gathered:
        merged.update(part or {})
    return merged


def leave(world: World) -> None:
    """Wait for every rank, then take the process group down. A gloo group left for the
    interpreter's exit to tear down can abort the process ("terminate called without an
    active exception") after the work is done."""
    if world.size > 1 and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
