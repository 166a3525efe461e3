"""One cgroup per run, nested under the runner's own, in whichever hierarchies allow it.

A cgroup is the only way to find *every* process of a submission (descendants that left
the session or double-forked stay in it), to kill them all at once (cgroup v2
``cgroup.kill``, or v1 freezer + SIGKILL), to account their memory including the page
cache and to cap it in the kernel. Each part is optional: what could not be created is
recorded with its reason, and the supervisor falls back to its subreaper and /proc scans.
Standard library only (the supervisor imports it before anything heavy).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

from scorer import procfs

V1_CONTROLLERS = ("memory", "pids", "freezer", "cpuacct")


def _mounts() -> tuple[dict[str, tuple[str, str]], tuple[str, str] | None]:
    """(v1 controller -> (mount point, mount root), v2 (mount point, mount root))."""
    v1: dict[str, tuple[str, str]] = {}
    v2 = None
    for mount in procfs.mounts():
        if mount.fstype == "cgroup2" and v2 is None:
            v2 = (mount.point, mount.root)
        elif mount.fstype == "cgroup":
            for option in sorted(mount.options & set(V1_CONTROLLERS)):
                v1.setdefault(option, (mount.point, mount.root))
    return v1, v2


def _own_paths() -> dict[str, str]:
    """Controller name (or "" for v2) -> this process's cgroup path."""
    paths = {}
    with open("/proc/self/cgroup") as handle:
        for line in handle:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            for name in controllers.split(",") if controllers else [""]:
                paths[name] = path
    return paths


def _join(point: str, root: str, own: str) -> Path:
    relative = own[len(root) :] if root != "/" and own.startswith(root) else own
    return Path(point) / relative.lstrip("/")


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _read_keyed(path: Path, key: str) -> int | None:
    try:
        for line in path.read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    except (OSError, ValueError):
        return None
    return None


@dataclass
class RunCgroups:
    """The cgroups of one run; ``notes`` says what was not obtained and why."""

    unified: Path | None = None  # cgroup v2 group (kill-all, maybe memory and pids)
    v1: dict[str, Path] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @classmethod
    def create(
        cls, name: str, memory_limit: int | None = None, pids_max: int | None = None
    ) -> RunCgroups:
        """Create the run's groups (named ``name``) and set the kernel limits asked for;
        whatever cannot be had is noted, never raised: the run goes on without it."""
        groups = cls()
        try:
            v1_mounts, v2_mount = _mounts()
            own = _own_paths()
        except OSError as err:
            groups.notes.append(f"cannot read cgroup mounts: {err}")
            return groups
        if v2_mount is not None:
            path = _join(*v2_mount, own.get("", "/")) / name
            try:
                path.mkdir()
                groups.unified = path
            except OSError as err:
                groups.notes.append(f"cgroup v2: cannot create {path}: {err.strerror}")
        for controller in V1_CONTROLLERS:
            if controller not in v1_mounts or groups._v2_has(controller):
                continue
            path = _join(*v1_mounts[controller], own.get(controller, "/")) / name
            try:
                path.mkdir()
                groups.v1[controller] = path
            except OSError as err:
                groups.notes.append(f"cgroup v1 {controller}: cannot create {path}: {err.strerror}")
        if memory_limit is not None:
            groups._write_limit("memory", "memory.max", "memory.limit_in_bytes", memory_limit)
        if pids_max is not None:
            groups._write_limit("pids", "pids.max", "pids.max", pids_max)
        return groups

    def _v2_has(self, controller: str) -> bool:
        if self.unified is None:
            return False
        key = {
            "memory": "memory.max",
            "pids": "pids.max",
            "freezer": "cgroup.freeze",
            "cpuacct": "cpu.stat",
        }[controller]
        return (self.unified / key).exists()

    def _write_limit(self, controller: str, v2_file: str, v1_file: str, value: int) -> None:
        target = (
            self.unified / v2_file
            if self._v2_has(controller)
            else (self.v1[controller] / v1_file if controller in self.v1 else None)
        )
        if target is None:
            self.notes.append(f"no {controller} cgroup: {controller} limit not set in the kernel")
            return
        try:
            target.write_text(str(value))
        except OSError as err:
            self.notes.append(f"cannot write {target}: {err.strerror}")

    @property
    def directories(self) -> list[Path]:
        """Every group directory of the run (v2 first), to join and to read."""
        return ([self.unified] if self.unified else []) + list(self.v1.values())

    @property
    def can_kill_all(self) -> bool:
        """Whether one write kills every process at once (v2 ``cgroup.kill`` or freezer)."""
        return self.unified is not None or "freezer" in self.v1

    @property
    def has_memory(self) -> bool:
        """Whether the kernel accounts (and can cap) the run's memory."""
        return self._v2_has("memory") or "memory" in self.v1

    def join(self, pid: int = 0) -> list[str]:
        """Move ``pid`` (0 = the caller) into every group; returns the failures."""
        failures = []
        for directory in self.directories:
            try:
                (directory / "cgroup.procs").write_text(str(pid or os.getpid()))
            except OSError as err:
                failures.append(f"{directory}: {err.strerror}")
        return failures

    def pids(self) -> set[int]:
        """The processes in the groups now: found however they left the process tree."""
        found: set[int] = set()
        for directory in self.directories:
            with contextlib.suppress(OSError, ValueError):
                found.update(int(p) for p in (directory / "cgroup.procs").read_text().split())
        return found

    def populated(self) -> bool:
        """Whether any process is still in the groups (v2 says it atomically)."""
        if self.unified is not None:
            value = _read_keyed(self.unified / "cgroup.events", "populated")
            if value is not None:
                return bool(value)
        return bool(self.pids())

    def kill_all(self) -> None:
        """SIGKILL every process in the groups, forks in flight included."""
        if self.unified and (self.unified / "cgroup.kill").exists():
            with contextlib.suppress(OSError):
                (self.unified / "cgroup.kill").write_text("1")
                return
        state = self._freeze(True)
        for pid in self.pids():
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        if state is not None:
            self._freeze(False)

    def _freeze(self, frozen: bool) -> Path | None:
        """Stop every process (no fork can race the kill); the file used, or None."""
        if self.unified and (self.unified / "cgroup.freeze").exists():
            target, value, done = self.unified / "cgroup.freeze", "1" if frozen else "0", None
        elif "freezer" in self.v1:
            target = self.v1["freezer"] / "freezer.state"
            value = done = "FROZEN" if frozen else "THAWED"
        else:
            return None
        try:
            target.write_text(value)
            deadline = time.monotonic() + 1.0
            while done and target.read_text().strip() != done and time.monotonic() < deadline:
                time.sleep(0.01)
        except OSError:
            return None
        return target

    def memory_bytes(self) -> int | None:
        """Current usage, page cache included (what the kernel limit counts)."""
        if self._v2_has("memory"):
            return _read_int(self.unified / "memory.current")
        if "memory" in self.v1:
            return _read_int(self.v1["memory"] / "memory.usage_in_bytes")
        return None

    def peak_memory_bytes(self) -> int | None:
        """The run's peak memory as the kernel counted it (page cache included); None
        without a memory group."""
        if self._v2_has("memory"):
            return _read_int(self.unified / "memory.peak")
        if "memory" in self.v1:
            return _read_int(self.v1["memory"] / "memory.max_usage_in_bytes")
        return None

    def cpu_seconds(self) -> tuple[float, float] | None:
        """(user, system) CPU seconds of every process that ran in the groups (cgroup v2
        ``cpu.stat``, present in every v2 group; else v1 ``cpuacct``); None without."""
        if self.unified is not None:
            user = _read_keyed(self.unified / "cpu.stat", "user_usec")
            system = _read_keyed(self.unified / "cpu.stat", "system_usec")
            if user is not None and system is not None:
                return user / 1e6, system / 1e6
        if "cpuacct" in self.v1:
            total = _read_int(self.v1["cpuacct"] / "cpuacct.usage")
            user = _read_keyed(self.v1["cpuacct"] / "cpuacct.stat", "user")
            system = _read_keyed(self.v1["cpuacct"] / "cpuacct.stat", "system")
            if total is not None and user is not None and system is not None:
                share = user / (user + system) if user + system else 1.0
                return total / 1e9 * share, total / 1e9 * (1 - share)
        return None

    def oom_kills(self) -> int:
        """Processes the kernel killed for passing the memory limit."""
        if self._v2_has("memory"):
            return _read_keyed(self.unified / "memory.events", "oom_kill") or 0
        if "memory" in self.v1:
            return _read_keyed(self.v1["memory"] / "memory.oom_control", "oom_kill") or 0
        return 0

    def remove(self) -> list[str]:
        """Remove the (empty) groups; returns the ones that could not be removed."""
        left = []
        for directory in self.directories:
            for _ in range(50):
                try:
                    directory.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)  # the last exits are still being accounted
            else:
                left.append(str(directory))
        return left

    def limits(self) -> dict[str, int | str | None]:
        """The memory and process limits as the kernel holds them now, read back from the
        groups' files (None: no such group; ``max``: no limit)."""
        found: dict[str, int | str | None] = {}
        for controller, v2_file, v1_file in (
            ("memory", "memory.max", "memory.limit_in_bytes"),
            ("pids", "pids.max", "pids.max"),
        ):
            if self._v2_has(controller):
                path = self.unified / v2_file
            elif controller in self.v1:
                path = self.v1[controller] / v1_file
            else:
                found[controller] = None
                continue
            try:
                text = path.read_text().strip()
            except OSError:
                text = "unknown"
            found[controller] = int(text) if text.isdigit() else text
        return found

    def describe(self) -> dict:
        """What was obtained, for run.json's ``isolation.cgroups`` (the limits read back)."""
        return {
            "v2": str(self.unified) if self.unified else None,
            "v1": {name: str(path) for name, path in self.v1.items()},
            "kill_all": self.can_kill_all,
            "memory": self.has_memory,
            "limits": self.limits(),
            "notes": list(self.notes),
        }
