"""Every CPU-second of a run, even of processes killed before anyone could wait for them.

Three measures, the best one kept: the run's cgroup (``cpu.stat`` or ``cpuacct.usage``:
the kernel counts every process that ever ran in it), the supervisor's reaped children
(``RUSAGE_CHILDREN``: exact for a tree that waits for its own), and samples of every
process of the run, the last sample of a process that died kept. Processes that leave
the tree and are killed at the deadline reach no one's ``wait``: without a cgroup only
the samples see their CPU. Standard library only (the supervisor's side).
"""

from __future__ import annotations

import resource
from dataclasses import dataclass, field

from scorer import procfs


@dataclass
class CpuSamples:
    """The last CPU reading of each process of the run, keyed by (pid, start time)."""

    last: dict[tuple[int, int], tuple[float, float]] = field(default_factory=dict)

    def sample(self, pids: set[int]) -> None:
        """Read each process's CPU now; a process that died keeps its last reading."""
        for pid in pids:
            found = procfs.process_cpu(pid)
            if found is not None:
                start, user, system = found
                self.last[(pid, start)] = (user, system)

    def seconds(self) -> tuple[float, float]:
        """(user, system) seconds summed over every process ever sampled."""
        return (
            sum(user for user, _ in self.last.values()),
            sum(system for _, system in self.last.values()),
        )


def cpu_record(
    cgroup: tuple[float, float] | None, samples: CpuSamples, usage: resource.struct_rusage
) -> dict:
    """The run's CPU time and how it was measured: the cgroup's count where there is one,
    else the larger of the reaped children's and the samples' (each misses what the other
    sees: short-lived children between samples, killed orphans nobody waited for);
    ``usage`` is the supervisor's ``RUSAGE_CHILDREN``."""
    reaped = (usage.ru_utime, usage.ru_stime)
    sampled = samples.seconds()
    if cgroup is not None:
        chosen, how = cgroup, "the run's cgroup (cpu.stat / cpuacct): every process in it"
    elif sum(sampled) > sum(reaped):
        chosen, how = sampled, "samples of every process of the run (no cgroup)"
    else:
        chosen, how = reaped, "the reaped processes' rusage (no cgroup)"
    return {
        "seconds": sum(chosen),
        "user_seconds": chosen[0],
        "system_seconds": chosen[1],
        "measured_by": how,
        "cgroup_seconds": None if cgroup is None else sum(cgroup),
        "reaped_seconds": sum(reaped),
        "sampled_seconds": sum(sampled),
        "processes_sampled": len(samples.last),
    }
