"""The granted GPUs as the machine knows them: index, PCI bus, device minor, UUID, files.

``--gpus 0,1`` names GPUs by NVML's index, which is CUDA's with
``CUDA_DEVICE_ORDER=PCI_BUS_ID`` (PCI bus order). The device file of a GPU is
``/dev/nvidia<minor>``, and the minor number is the driver's, not the index: on a node
where a GPU was removed or the driver numbered them otherwise, ``/dev/nvidia<index>`` is
another GPU or none. So each GPU is looked up by index through NVML when it answers
(``nvmlDeviceGetMinorNumber``, ``nvmlDeviceGetUUID``, its PCI bus id), else through the
driver's ``/proc/driver/nvidia/gpus/<bus>/information`` (``Device Minor``, ``GPU UUID``,
sorted by bus), and its device file is found by that minor number (a character device of
the NVIDIA major 195). Standard library only (``pynvml`` when installed).
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from scorer.errors import LumeError

PROC_GPUS = "/proc/driver/nvidia/gpus"
NVIDIA_MAJOR = 195
CONTROL_FILES = ("/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools")


@dataclass(frozen=True)
class Gpu:
    """One GPU: its index (NVML's, CUDA's in PCI bus order), PCI bus id, minor number,
    UUID (None when unknown) and device file (None when there is none)."""

    index: int
    bus: str
    minor: int
    uuid: str | None
    device: str | None


def parse_information(text: str) -> dict[str, str]:
    """The ``Key: value`` lines of a driver's ``information`` file."""
    fields = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    return fields


def normal_bus(bus: str) -> str:
    """A PCI bus id as the driver's directory names it: ``0000:3b:00.0``, lower case
    (NVML gives ``00000000:3B:00.0``)."""
    parts = bus.strip().lower().split(":")
    domain, rest = (parts[0], parts[1:]) if len(parts) == 3 else ("0", parts)
    return ":".join([f"{int(domain, 16):04x}", *rest])


def from_proc(root: str = PROC_GPUS) -> list[tuple[str, int, str | None]]:
    """(bus, minor, uuid) of each GPU the driver lists, in PCI bus order; [] without one."""
    found = []
    with contextlib.suppress(OSError):
        for entry in sorted(os.listdir(root)):
            with contextlib.suppress(OSError, ValueError):
                fields = parse_information(Path(root, entry, "information").read_text())
                uuid = fields.get("GPU UUID")
                found.append((normal_bus(entry), int(fields["Device Minor"]), uuid or None))
    return sorted(found)


def from_nvml(nvml, indices: list[int]) -> dict[int, tuple[str, int, str | None]]:
    """(bus, minor, uuid) of each index NVML answers for; {} when it does not."""
    found = {}
    try:
        nvml.nvmlInit()
    except Exception:  # noqa: BLE001 - no driver, no library: the /proc way then
        return found
    try:
        for index in indices:
            with contextlib.suppress(Exception):
                handle = nvml.nvmlDeviceGetHandleByIndex(index)
                bus = nvml.nvmlDeviceGetPciInfo(handle).busId
                uuid = nvml.nvmlDeviceGetUUID(handle)
                bus, uuid = (_text(bus), _text(uuid))
                found[index] = (normal_bus(bus), int(nvml.nvmlDeviceGetMinorNumber(handle)), uuid)
    finally:
        with contextlib.suppress(Exception):
            nvml.nvmlShutdown()
    return found


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def device_file(
    minor: int, dev: str = "/dev", stat_of: Callable[[str], os.stat_result] = os.stat
) -> str | None:
    """The character device of NVIDIA's major and this minor: ``/dev/nvidia<minor>`` when
    it is that device, else any ``nvidia<N>`` that is; None when there is none."""
    names = [f"nvidia{minor}"]
    with contextlib.suppress(OSError):
        names += sorted(n for n in os.listdir(dev) if re.fullmatch(r"nvidia\d+", n))
    for name in dict.fromkeys(names):
        path = os.path.join(dev, name)
        with contextlib.suppress(OSError):
            st = stat_of(path)
            if stat.S_ISCHR(st.st_mode) and (os.major(st.st_rdev), os.minor(st.st_rdev)) == (
                NVIDIA_MAJOR,
                minor,
            ):
                return path
    return None


def granted_gpus(
    indices: list[int] | tuple[int, ...],
    nvml=None,
    proc: str = PROC_GPUS,
    dev: str = "/dev",
    stat_of: Callable[[str], os.stat_result] = os.stat,
) -> list[Gpu]:
    """The granted GPUs, looked up by index (NVML first, else the driver's /proc files in
    bus order). Raises :class:`LumeError` (bad input: nothing is run) for an index the
    machine does not have, naming what it has."""
    if not indices:
        return []
    if nvml is None:
        with contextlib.suppress(ImportError):
            import pynvml as nvml
    known = from_nvml(nvml, list(indices)) if nvml else {}  # False: do not ask NVML
    listed = from_proc(proc)
    gpus = []
    for index in indices:
        entry = known.get(index) or (listed[index] if index < len(listed) else None)
        if entry is None:
            have = len(listed) or len(known)
            there = f"this machine has {have} GPU(s)" if have else "no NVIDIA GPU is visible here"
            raise LumeError(
                f"--gpus {','.join(str(i) for i in indices)}: no GPU {index} ({there}: "
                f"neither NVML nor {proc} lists it)"
            )
        bus, minor, uuid = entry
        gpus.append(Gpu(index, bus, minor, uuid, device_file(minor, dev, stat_of)))
    return gpus


def control_files(exists: Callable[[str], bool] = os.path.exists) -> list[str]:
    """The driver's shared device files CUDA opens besides the GPU's own."""
    return [path for path in CONTROL_FILES if exists(path)]


def visible_devices(gpus: list[Gpu]) -> str:
    """``CUDA_VISIBLE_DEVICES`` for the granted GPUs: their UUIDs, which name the same
    GPUs however CUDA numbers what it can open in the sandbox; indices when a UUID is
    unknown."""
    if gpus and all(g.uuid for g in gpus):
        return ",".join(str(g.uuid) for g in gpus)
    return ",".join(str(g.index) for g in gpus)
