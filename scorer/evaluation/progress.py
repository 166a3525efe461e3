"""Progress hooks and the per-phase timer (seconds, peak memory): never in ``scores.json``."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from scorer.procfs import peak_rss_bytes, reset_peak_rss


@dataclass
class PhaseTimer:
    """Seconds and peak memory per phase (``timings.json``, never in ``scores.json``).

    Peak RSS is the process's high-water mark during the phase where the kernel lets it
    be reset, else since the start; peak CUDA memory is torch's allocator peak.
    """

    seconds: dict[str, float] = field(default_factory=dict)
    peak_rss_bytes: dict[str, int] = field(default_factory=dict)
    peak_cuda_bytes: dict[str, int] = field(default_factory=dict)
    units: dict[str, dict[str, int]] = field(default_factory=dict)  # by rank: cached/computed

    def run(self, name: str, work: Callable):
        """``work()``'s result, its seconds and peak memory recorded under ``name``."""
        reset_peak_rss()
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        result = work()
        self.seconds[name] = time.perf_counter() - start
        self.peak_rss_bytes[name] = peak_rss_bytes()
        if torch.cuda.is_available():
            self.peak_cuda_bytes[name] = torch.cuda.max_memory_allocated()
        return result

    def to_json(self) -> dict:
        """``timings.json``'s content (seconds rounded to milliseconds)."""
        phases = {
            name: {
                "seconds": round(self.seconds[name], 3),
                "peak_rss_bytes": self.peak_rss_bytes.get(name),
                "peak_cuda_bytes": self.peak_cuda_bytes.get(name),
            }
            for name in self.seconds
        }
        return {"phases": phases, "units_by_process": self.units}


# Progress hook: (phase name, total units) -> callable advancing by n units.
ProgressFactory = Callable[[str, int], Callable[[int], None]]


def no_progress(_phase: str, _total: int) -> Callable[[int], None]:
    """The progress hook of a run that shows none (library use, tests, ``--json``)."""
    return lambda _n: None
