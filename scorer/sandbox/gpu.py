"""GPU accounting through NVML (``pynvml``, optional), polled by the supervisor.

Per granted device: busy GPU-seconds (utilization x time), the peak memory the run's
processes held on it (NVML's per-process numbers, when its pids are visible here) and
the peak of the device's used memory above what was used before the run started.
Without ``pynvml`` or a driver the record says why and numbers are ``None``; a run granted
GPUs without ``pynvml`` (the ``gpu`` extra) also says so once on stderr.
"""

from __future__ import annotations

import contextlib
import sys

NO_PYNVML = (
    "pynvml is not installed: GPU time and memory are not measured and no GPU memory limit "
    "is enforced (pip install 'lume-kit[gpu]', i.e. nvidia-ml-py)"
)
_told = False  # the console notice is given once per process


def _tell_once(why: str) -> None:
    global _told
    if not _told:
        _told = True
        print(f"notice: {why}", file=sys.stderr, flush=True)


class GpuMonitor:
    """The granted devices' usage during one run; inert (and saying why) without NVML."""

    def __init__(self, indices: list[int]) -> None:
        self.indices = list(indices)
        self.why_not: str | None = None
        self._nvml = None
        self._handles: list = []
        self.busy_seconds = [0.0] * len(self.indices)
        self.peak_process_bytes = [0] * len(self.indices)
        self.peak_device_bytes = [0] * len(self.indices)
        self._baseline = [0] * len(self.indices)
        self.samples = 0
        if not self.indices:
            self.why_not = "no GPU granted"
            return
        try:
            import pynvml

            pynvml.nvmlInit()
            self._handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in self.indices]
            self._baseline = [pynvml.nvmlDeviceGetMemoryInfo(h).used for h in self._handles]
            self._nvml = pynvml
        except ImportError:
            self.why_not = NO_PYNVML
            _tell_once(NO_PYNVML)
        except Exception as err:  # noqa: BLE001 - any NVML failure means no accounting
            self.why_not = f"NVML unavailable: {err}"

    @property
    def active(self) -> bool:
        """Whether NVML answers: only then are there numbers to record or limits to hold."""
        return self._nvml is not None

    def poll(self, pids: set[int], seconds: float) -> None:
        """Take one sample, counting ``seconds`` of busy time at the utilization seen and
        the memory ``pids`` (the run's processes) hold."""
        if not self.active:
            return
        nvml = self._nvml
        self.samples += 1
        for k, handle in enumerate(self._handles):
            with contextlib.suppress(Exception):
                util = nvml.nvmlDeviceGetUtilizationRates(handle).gpu
                self.busy_seconds[k] += util / 100.0 * seconds
            with contextlib.suppress(Exception):
                used = nvml.nvmlDeviceGetMemoryInfo(handle).used - self._baseline[k]
                self.peak_device_bytes[k] = max(self.peak_device_bytes[k], used)
            with contextlib.suppress(Exception):
                held = sum(
                    p.usedGpuMemory or 0
                    for p in nvml.nvmlDeviceGetComputeRunningProcesses(handle)
                    if p.pid in pids
                )
                self.peak_process_bytes[k] = max(self.peak_process_bytes[k], held)

    def peak_bytes(self) -> int:
        """The most any one device held for the run (per-process numbers when visible)."""
        return max(self.peak_process_bytes, default=0) or max(self.peak_device_bytes, default=0)

    def result(self, wall_seconds: float) -> dict:
        """The run's GPU record (run.json's ``gpu``); shuts NVML down."""
        record = {
            "granted": self.indices,
            "allocated_gpu_seconds": wall_seconds * len(self.indices),
            "gpu_seconds": None,
            "devices": None,
            "why_not": self.why_not,
        }
        if self.active:
            record["gpu_seconds"] = sum(self.busy_seconds)
            record["devices"] = [
                {
                    "index": index,
                    "busy_seconds": self.busy_seconds[k],
                    "peak_memory_bytes": self.peak_process_bytes[k] or None,
                    "peak_device_memory_above_start_bytes": max(self.peak_device_bytes[k], 0),
                }
                for k, index in enumerate(self.indices)
            ]
            record["samples"] = self.samples
            with contextlib.suppress(Exception):
                self._nvml.nvmlShutdown()
        return record
