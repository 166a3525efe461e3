"""What every phase shares: the settings, the result cache, this process's place, the
progress hooks, and the one way a phase's work is keyed, cached, shared out and run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from scorer.engine.cache import ResultCache
from scorer.engine.parallel import World
from scorer.engine.workplan import Batch, Work, plan, run_units, share_of
from scorer.evaluation.progress import ProgressFactory, no_progress
from scorer.evaluation.settings import EvalSettings


def _as_computed(_index: int, result: Any) -> Any:
    return result


@dataclass(frozen=True)
class Job:
    """A scoring run's shared state. ``context`` holds what changes numbers (checkpoint,
    device, dtype, settings) for the cache keys; ``tally`` counts cached/computed units."""

    settings: EvalSettings
    cache: ResultCache = field(default_factory=lambda: ResultCache(None))
    world: World = World(0, 1, 0)
    context: dict = field(default_factory=dict)
    progress: ProgressFactory = no_progress
    tally: dict[str, int] = field(default_factory=dict)

    def run(
        self,
        phase: str,
        work: Work,
        payload: Callable[[int], object],
        keep: Callable[[int, Any], Any] = _as_computed,
    ) -> list:
        """Every input's result, in input order. ``payload(i)`` is what identifies input
        ``i`` in the cache key; ``keep(i, result)`` turns an engine's result into what is
        cached and returned (e.g. token statistics into attack scores), so that the cache
        holds small JSON, never per-token arrays."""
        units = plan(phase, work, payload, self.context)
        advance = self.progress(phase, share_of(units, self.world))

        def compute(batch: Batch) -> list:
            return [keep(i, r) for i, r in zip(batch.indices, work.compute(batch))]

        results = run_units(units, compute, self.cache, self.world, advance, self.tally)
        return [results[i] for i in range(len(results))]
