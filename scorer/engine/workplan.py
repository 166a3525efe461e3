"""Units of work: the batches of one phase, keyed, planned identically everywhere, run once.

An engine cuts a phase (generation, MIA, MMLU) into batches from the inputs alone (their
lengths, never the machine's state), so the plan is the same in every process and in every
resumed run. Each batch becomes a unit keyed by what decides its result; each unit is looked
up in the result cache before it is computed, each process computes its own share, and the
results come back in the caller's order. Because a unit's inputs (and so its numbers) never
depend on which process ran it or on what was cached, a resumed or multi-process run gives
exactly the bytes of a plain one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from scorer.engine.cache import ResultCache, unit_key
from scorer.engine.parallel import World, share


@dataclass(frozen=True)
class Batch:
    """Inputs computed together: positions in the phase's list of inputs, and what they
    share beyond their own inputs (e.g. an MMLU subject's k-shot prefix tokens)."""

    indices: tuple[int, ...]
    shared: tuple = ()


@dataclass(frozen=True)
class Work:
    """A phase as an engine will run it: its batches and how to compute one batch (one
    result per index, in the batch's order). ``engine`` names the engine, for the keys."""

    engine: str
    batches: tuple[Batch, ...]
    compute: Callable[[Batch], list]


@dataclass(frozen=True)
class Unit:
    """One batch of one phase and the cache key of its result."""

    phase: str
    batch: Batch
    key: str


def one_each(count: int) -> tuple[Batch, ...]:
    """One input per batch, in order: the official per-item loop's plan."""
    return tuple(Batch((i,)) for i in range(count))


def plan(phase: str, work: Work, payload: Callable[[int], object], context: dict) -> list[Unit]:
    """Key each batch of ``work``: a changed checkpoint, setting (``context``), engine,
    shared data or input (``payload(i)``) gives a new key and never meets a stale result."""
    keyed = {**context, "engine": work.engine}
    return [
        Unit(
            phase,
            batch,
            unit_key(keyed, phase, [list(batch.shared), [payload(i) for i in batch.indices]]),
        )
        for batch in work.batches
    ]


def run_units(
    units: Sequence[Unit],
    compute: Callable[[Batch], list],
    cache: ResultCache,
    world: World,
    progress: Callable[[int], None],
    tally: dict[str, int] | None = None,
) -> dict[int, object]:
    """``{input index: result}`` for every unit; this process handles every world-th one,
    so that the processes of a launch share the work without talking until the end.

    A cached result is used as it is (a result of the wrong length is recomputed).
    ``tally`` counts the units this process took from the cache and computed itself.
    """
    mine: dict[str, list] = {}
    tally = tally if tally is not None else {}
    for n, unit in enumerate(units):
        if n % world.size != world.rank:
            continue
        result = cache.get(unit.phase, unit.key)
        if result is None or len(result) != len(unit.batch.indices):
            result = compute(unit.batch)
            cache.put(unit.phase, unit.key, result)
            tally["computed"] = tally.get("computed", 0) + 1
        else:
            tally["cached"] = tally.get("cached", 0) + 1
        mine[unit.key] = result
        progress(len(unit.batch.indices))
    everything = share(world, mine)
    out: dict[int, object] = {}
    for unit in units:
        for index, result in zip(unit.batch.indices, everything[unit.key]):
            out[index] = result
    return out


def share_of(units: Sequence[Unit], world: World) -> int:
    """How many inputs this process will handle (for its progress bar)."""
    return sum(len(u.batch.indices) for n, u in enumerate(units) if n % world.size == world.rank)
