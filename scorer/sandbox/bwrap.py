"""The submission's whole view of the machine, as a bubblewrap command line (a whitelist).

Only what is bound here exists for the submission: the interpreter and installed packages
(read-only, at their own paths), the staged inputs (read-only) and its own directories
(writable) under ``/lume``, a private ``/proc`` of its own PID namespace, a minimal
``/dev`` (plus, when GPUs are granted, their device files, a read-only ``/sys`` for the
PCI topology and only their entries of the driver's ``/proc`` listing), fresh tmpfs for ``/tmp``,
``/var/tmp``, ``/dev/shm``, ``/run/lock`` and ``/var/lock``, and an ``/etc`` of three
files (the dynamic loader's cache, a ``passwd`` and a ``group`` naming the run's user).
New PID, network, IPC, UTS and mount namespaces, ``--die-with-parent``, ``--new-session``,
every capability dropped but the two the child needs to become the run's user (it drops
them with the change of user), ``no_new_privs`` (bwrap always sets it) and an optional
seccomp program. Pure: :func:`bwrap_argv` only builds the list.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import shutil
import site
import sys
from dataclasses import dataclass

from scorer.sandbox.nvidia import PROC_GPUS, Gpu, control_files

SANDBOX_ROOT = "/lume"
PRIVATE_TMPFS = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/var/lock")
HOST_LINKS = ("bin", "lib", "lib64", "sbin")  # Debian's merged /usr: links into it
KIT_PACKAGES = ("scorer", "baselines", "starter_kit")
HOSTNAME = "lume"
# Kept for the child to become the run's user and empty the bounding set, then all gone.
KEPT_CAPABILITIES = ("CAP_SETUID", "CAP_SETGID", "CAP_SETPCAP")


@dataclass(frozen=True)
class View:
    """What the submission sees: (host path, sandbox path) pairs and the rest."""

    read_only: tuple[tuple[str, str], ...]
    writable: tuple[tuple[str, str], ...]
    devices: tuple[str, ...] = ()
    tmpfs_bytes: int | None = None  # size of each private tmpfs (None: the kernel's default)
    cwd: str = SANDBOX_ROOT
    gpu_proc: tuple[str, ...] = ()  # the granted GPUs' /proc/driver/nvidia/gpus/<bus>


def find_bwrap() -> str | None:
    """The ``bwrap`` executable, or None when bubblewrap is not installed."""
    return shutil.which("bwrap") or next(
        (p for p in ("/usr/bin/bwrap", "/usr/local/bin/bwrap") if os.access(p, os.X_OK)), None
    )


def probe(bwrap: str) -> str | None:
    """None when ``bwrap`` can create the namespaces a run needs here (as this user), else
    its complaint: a container without the privileges fails before any run starts."""
    import subprocess

    argv = [bwrap, "--ro-bind", "/", "/", "--unshare-pid", "--unshare-net", "--unshare-ipc"]
    argv += ["--unshare-uts", "--die-with-parent", "--new-session", "--", "true"]
    if os.geteuid() != 0:
        argv.insert(1, "--unshare-user")
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as err:
        return str(err)
    return None if done.returncode == 0 else " ".join(done.stderr.split())[:300]


@functools.lru_cache(maxsize=4)
def can_disable_userns(bwrap: str) -> bool:
    """Whether this bwrap has ``--disable-userns`` (0.8 and later): in a run with a user
    namespace of its own, no further one can be made inside (the seccomp filter refuses
    them too; two layers)."""
    import subprocess

    try:
        done = subprocess.run([bwrap, "--help"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "--disable-userns" in done.stdout + done.stderr


def interpreter_paths() -> list[str]:
    """The directories the interpreter and the installed packages are read from, outermost
    only: the prefixes (the standard library, the environment's site-packages) and the
    kit's own packages by their package directory, never the repository or the test
    directory that holds them (they may hold tracks and results)."""
    prefixes = {sys.prefix, sys.base_prefix, sys.exec_prefix}
    prefixes.add(os.path.dirname(os.path.dirname(os.path.realpath(sys.executable))))
    paths = set(prefixes)
    paths.update(site.getsitepackages())
    for name in KIT_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.submodule_search_locations:
            paths.update(spec.submodule_search_locations)
    real = {os.path.realpath(p) for p in paths if os.path.isdir(p)}
    return outermost(sorted(real))


def outermost(paths: list[str]) -> list[str]:
    """Drop the paths that lie under another one of the list."""
    kept: list[str] = []
    for path in sorted(set(paths), key=lambda p: (p.count("/"), p)):
        if not any(path == k or path.startswith(k.rstrip("/") + "/") for k in kept):
            kept.append(path)
    return sorted(kept)


def parent_directories(targets: list[str]) -> list[str]:
    """Every directory above the targets (``/`` and ``/usr`` excepted), parents first:
    bwrap would create them 0700, closed to the run's user."""
    found: set[str] = set()
    for target in targets:
        parent = os.path.dirname(target.rstrip("/"))
        while parent not in ("/", "") and not parent.startswith("/usr"):
            found.add(parent)
            parent = os.path.dirname(parent)
    return sorted(found, key=lambda p: (p.count("/"), p))


def gpu_devices(gpus: list[Gpu]) -> tuple[str, ...]:
    """The device files CUDA needs for the granted GPUs (each found by its minor number,
    see ``scorer.sandbox.nvidia``) and the driver's control files."""
    if not gpus:
        return ()
    return tuple([g.device for g in gpus if g.device] + control_files())


def gpu_proc_entries(gpus: list[Gpu], root: str = PROC_GPUS) -> tuple[str, ...]:
    """The granted GPUs' directories under the driver's ``/proc`` listing (the others are
    hidden, as the NVIDIA container toolkit does: CUDA and NVML then list only these)."""
    if not gpus or not os.path.isdir(root):
        return ()
    return tuple(
        os.path.join(root, g.bus) for g in gpus if os.path.isdir(os.path.join(root, g.bus))
    )


def etc_files(uid: int, gid: int) -> dict[str, str]:
    """``/etc/passwd`` and ``/etc/group`` naming only root and the run's user: libraries
    that look the user up (getpass, torch's caches) find one, and nothing else is listed."""
    return {
        "/etc/passwd": f"root:x:0:0::/:/usr/sbin/nologin\nlume:x:{uid}:{gid}::"
        f"{SANDBOX_ROOT}/home:/usr/sbin/nologin\n",
        "/etc/group": f"root:x:0:\nlume:x:{gid}:\n",
    }


def bwrap_argv(
    bwrap: str,
    view: View,
    files: dict[str, str],
    seccomp_fd: str | None,
    command: list[str],
) -> list[str]:
    """The bwrap command that runs ``command`` inside ``view``; ``files`` maps a sandbox
    file (``/etc/passwd``...) to the host file shown read-only there; ``seccomp_fd`` is the
    descriptor (or a placeholder the supervisor fills in) holding the seccomp program."""
    argv = [bwrap, "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts"]
    argv += ["--unshare-cgroup-try", "--hostname", HOSTNAME]
    argv += ["--die-with-parent", "--new-session", "--cap-drop", "ALL"]
    for capability in KEPT_CAPABILITIES:
        argv += ["--cap-add", capability]
    for link in HOST_LINKS:
        target = os.path.join("/", link)
        if os.path.islink(target):
            argv += ["--symlink", os.readlink(target), target]
    argv += ["--ro-bind", "/usr", "/usr", "--proc", "/proc", "--dev", "/dev"]
    targets = [t for _, t in view.read_only + view.writable] + list(files) + list(PRIVATE_TMPFS)
    for directory in parent_directories(targets):
        argv += ["--perms", "0755", "--dir", directory]  # traversable, listing nothing else
    for device in view.devices:
        argv += ["--dev-bind", device, device]
    if view.devices:  # CUDA and NCCL read the PCI topology and NUMA nodes there
        argv += ["--ro-bind", "/sys", "/sys"]
    if view.gpu_proc:
        argv += ["--tmpfs", os.path.dirname(view.gpu_proc[0])]  # the others' entries hidden
        for entry in view.gpu_proc:
            argv += ["--ro-bind", entry, entry]
    if os.path.exists("/etc/ld.so.cache"):
        argv += ["--ro-bind", "/etc/ld.so.cache", "/etc/ld.so.cache"]
    for path, source in sorted(files.items()):
        argv += ["--ro-bind", source, path]
    for path in PRIVATE_TMPFS:
        if path == "/dev/shm" or not path.startswith("/dev"):
            if view.tmpfs_bytes:
                argv += ["--size", str(view.tmpfs_bytes)]
            argv += ["--perms", "1777", "--tmpfs", path]
    for directory in parent_directories(targets):  # again above targets a tmpfs just hid
        if any(directory.startswith(path + "/") for path in PRIVATE_TMPFS):
            argv += ["--perms", "0755", "--dir", directory]
    for source, target in view.read_only:
        if not target.startswith("/usr/"):
            argv += ["--ro-bind", source, target]
    for source, target in view.writable:
        argv += ["--bind", source, target]
    if seccomp_fd is not None:
        argv += ["--seccomp", seccomp_fd]
    argv += ["--chdir", view.cwd, "--"]
    return argv + list(command)
