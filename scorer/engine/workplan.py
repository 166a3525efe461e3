"""Units of work: the batches of one phase, planned identically everywhere, run once.

A phase (generation, MIA, MMLU) is cut into units — batches of items chosen from the
lengths alone, so the plan is the same in every process and in every resumed run. Each
unit is looked up in the result cache before it is computed, each process computes its
own share, and the results come back in the caller's order. Because a unit's inputs
(and so its numbers) never depend on which process ran it or on what was cached, a
resumed or multi-process run gives exactly the bytes of a plain one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from scorer.engine.cache import ResultCache, unit_key
from scorer.engine.generate import length_batches
from scorer.engine.parallel import World, share


@dataclass(frozen=True)
class Unit:
    phase: str
    indices: tuple[int, ...]  # positions in the phase's list of inputs
    key: str
    context: tuple = ()  # shared data the computation needs (e.g. an MMLU prefix)


def plan(
    phase: str,
    lengths: Sequence[int],
    cost: Callable[[int, int], int],
    budget: int,
    payload: Callable[[int], object],
    context: dict,
    unit_context: tuple = (),
) -> list[Unit]:
    """Batches of ``lengths`` under ``budget`` (a budget of 0 means one item per unit)."""
    units = []
    for batch in length_batches(lengths, cost, budget):
        inputs = [payload(i) for i in batch]
        key = unit_key(context, phase, [list(unit_context), inputs])
        units.append(Unit(phase, tuple(batch), key, unit_context))
    return units


def run_units(
    units: Sequence[Unit],
    compute: Callable[[Unit], list],
    cache: ResultCache,
    world: World,
    progress: Callable[[int], None],
    tally: dict[str, int] | None = None,
) -> dict[int, object]:
    """``{input index: result}`` for every unit; this process handles every world-th one.

    ``tally`` counts the units this process took from the cache and computed itself.
    """
    mine: dict[str, list] = {}
    tally = tally if tally is not None else {}
    for n, unit in enumerate(units):
        if n % world.size != world.rank:
            continue
        result = cache.get(unit.phase, unit.key)
        if result is None or len(result) != len(unit.indices):
            result = compute(unit)
            cache.put(unit.phase, unit.key, result)
            tally["computed"] = tally.get("computed", 0) + 1
        else:
            tally["cached"] = tally.get("cached", 0) + 1
        mine[unit.key] = result
        progress(len(unit.indices))
    everything = share(world, mine)
    out: dict[int, object] = {}
    for unit in units:
        for index, result in zip(unit.indices, everything[unit.key]):
            out[index] = result
    return out


def share_of(units: Sequence[Unit], world: World) -> int:
    """How many inputs this process will handle (for its progress bar)."""
    return sum(len(u.indices) for n, u in enumerate(units) if n % world.size == world.rank)
