"""What isolation is in force, read back from the kernel, and compared with what was asked.

The child reads :func:`read_facts` after it became the run's user and before the
submission is imported (so nothing of the submission's can have touched it); the
supervisor reads :func:`judge_namespaces` of its own. :func:`checked_isolation` compares
the two and the plan: a namespace is ``separate`` only when its inode differs from the
judge's, the network is ``cut`` only when its namespace is separate and holds nothing but
loopback interfaces, and every layer that was asked for but is not in force is listed in
``lost``. A fact that cannot be read is ``"unknown"``, never assumed. Lists are bounded.
Standard library only: the child and the supervisor import it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import resource
import socket
import struct

from scorer import procfs

NAMESPACES = ("cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts")
UNKNOWN = "unknown"
MAX_LISTED = 64  # entries of a list kept in a record; the rest is counted
RLIMITS = ("AS", "CORE", "CPU", "DATA", "FSIZE", "MEMLOCK", "NOFILE", "NPROC", "STACK")
CAPABILITY_SETS = {
    "CapInh": "inheritable",
    "CapPrm": "permitted",
    "CapEff": "effective",
    "CapBnd": "bounding",
    "CapAmb": "ambient",
}
CAPABILITY_NAMES = (  # bit number -> name (linux/capability.h)
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
)
SECCOMP_MODES = {"0": "off", "1": "strict", "2": "filter"}
SIOCGIFFLAGS = 0x8913
IFF_UP, IFF_LOOPBACK = 0x1, 0x8


def bounded(values: list, limit: int = MAX_LISTED) -> dict:
    """``{"first": the first ``limit`` values, "more": how many were left out}``."""
    return {"first": list(values[:limit]), "more": max(0, len(values) - limit)}


def capability_names(mask: int) -> list[str]:
    """The names of the capabilities set in ``mask`` (``CAP_<bit>`` past the known ones)."""
    return [
        CAPABILITY_NAMES[bit] if bit < len(CAPABILITY_NAMES) else f"CAP_{bit}"
        for bit in range(64)
        if mask >> bit & 1
    ]


# ---------------------------------------------------------------- read in any process


def _status() -> dict[str, str]:
    with open("/proc/self/status") as handle:
        return {
            key: value.strip()
            for key, _, value in (line.rstrip("\n").partition(":\t") for line in handle)
            if value
        }


def namespaces_of(pid: str = "self") -> dict[str, str]:
    """Each namespace's identity (``net:[4026531840]``) of a process, or ``unknown``."""
    found = {}
    for name in NAMESPACES:
        try:
            found[name] = os.readlink(f"/proc/{pid}/ns/{name}")
        except OSError:
            found[name] = UNKNOWN
    return found


def judge_namespaces() -> dict[str, str]:
    """The judge's own namespaces: what a separate namespace must differ from."""
    return namespaces_of("self")


def _interface_flags(name: str) -> int | None:
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            answer = fcntl.ioctl(sock.fileno(), SIOCGIFFLAGS, struct.pack("16sH", name.encode(), 0))
    except OSError:
        return None
    return struct.unpack("16sH", answer[:18])[1]


def interfaces() -> list[dict] | str:
    """The network interfaces of this network namespace (``/proc/net/dev``), each up or
    down and loopback or not; ``unknown`` when they cannot be listed."""
    try:
        with open("/proc/net/dev") as handle:
            names = [line.split(":", 1)[0].strip() for line in handle.readlines()[2:]]
    except OSError:
        return UNKNOWN
    found = []
    for name in names:
        flags = _interface_flags(name)
        found.append(
            {
                "name": name,
                "up": UNKNOWN if flags is None else bool(flags & IFF_UP),
                "loopback": UNKNOWN if flags is None else bool(flags & IFF_LOOPBACK),
            }
        )
    return found


def mounts() -> dict | str:
    """What is mounted in this view (``/proc/self/mountinfo``): the writable mount points
    and the read-only ones, as paths inside the view; ``unknown`` when unreadable."""
    try:
        found = procfs.mounts()
    except OSError:
        return UNKNOWN
    writable = sorted({m.point for m in found if "ro" not in m.options})
    read_only = sorted({m.point for m in found if "ro" in m.options})
    return {"writable": bounded(writable), "read_only": bounded(read_only)}


def rlimits() -> dict[str, list]:
    """Each resource limit as ``[soft, hard]`` (None: unlimited)."""
    found = {}
    for name in RLIMITS:
        soft, hard = resource.getrlimit(getattr(resource, f"RLIMIT_{name}"))
        found[name] = [None if v == resource.RLIM_INFINITY else v for v in (soft, hard)]
    return found


def _map(name: str) -> list[list[int]] | str:
    try:
        with open(f"/proc/self/{name}") as handle:
            return [[int(x) for x in line.split()] for line in handle if line.strip()]
    except (OSError, ValueError):
        return UNKNOWN


def read_facts() -> dict:
    """Everything this process can read about its own isolation, from the kernel."""
    try:
        status = _status()
    except OSError:
        status = {}
    capabilities = {}
    for key, name in CAPABILITY_SETS.items():
        try:
            capabilities[name] = f"{int(status[key], 16):x}"
        except (KeyError, ValueError):
            capabilities[name] = UNKNOWN
    cgroup: list[str] | str = UNKNOWN
    with contextlib.suppress(OSError), open("/proc/self/cgroup") as handle:
        cgroup = [line.rstrip("\n") for line in handle][:MAX_LISTED]
    filters = status.get("Seccomp_filters")
    return {
        "uid": os.getuid(),
        "gid": os.getgid(),
        "ids": {"uid": status.get("Uid", UNKNOWN), "gid": status.get("Gid", UNKNOWN)},
        "groups": os.getgroups(),
        "uid_map": _map("uid_map"),
        "gid_map": _map("gid_map"),
        "capabilities": capabilities,
        "no_new_privs": {"1": True, "0": False}.get(status.get("NoNewPrivs", ""), UNKNOWN),
        "seccomp": {
            "mode": SECCOMP_MODES.get(status.get("Seccomp", ""), UNKNOWN),
            "filters": int(filters) if filters and filters.isdigit() else UNKNOWN,
        },
        "namespaces": namespaces_of("self"),
        "interfaces": interfaces(),
        "mounts": mounts(),
        "rlimits": rlimits(),
        "cgroup": cgroup,
        "pid": os.getpid(),
        "session_id": os.getsid(0),  # 0: its leader lies outside this PID namespace
        "parent_death_signal": _parent_death_signal(),
        "hostname": os.uname().nodename,
    }


def _parent_death_signal() -> int | str:
    from scorer.sandbox.linux import parent_death_signal

    try:
        return parent_death_signal()
    except OSError:
        return UNKNOWN


# ---------------------------------------------------------------- compared by the judge


def namespace_states(child: dict[str, str], judge: dict[str, str]) -> dict[str, str]:
    """``separate`` / ``shared`` with the judge, or ``unknown`` where either is unreadable
    (a kernel without time namespaces, say)."""
    states = {}
    for name in NAMESPACES:
        mine, theirs = child.get(name, UNKNOWN), judge.get(name, UNKNOWN)
        if UNKNOWN in (mine, theirs):
            states[name] = UNKNOWN
        else:
            states[name] = "separate" if mine != theirs else "shared"
    return states


def network_state(namespace: str, found: list[dict] | str) -> dict:
    """Whether the network is cut: a separate namespace holding only loopback interfaces
    (bwrap's ``lo``); unknown when either fact is."""
    if namespace == UNKNOWN or found == UNKNOWN:
        cut: bool | str = UNKNOWN
    else:
        cut = namespace == "separate" and all(i["loopback"] is True for i in found)
    interfaces_kept = found if isinstance(found, str) else found[:MAX_LISTED]
    return {"namespace": namespace, "interfaces": interfaces_kept, "cut": cut}


def new_session(facts: dict, pid_namespace: str) -> bool | str:
    """Whether the child is in a session of its own: it leads it, or (in a PID namespace of
    its own) the session's leader is inside that namespace, so not the judge's session."""
    sid, pid = facts.get("session_id"), facts.get("pid")
    if not isinstance(sid, int) or not isinstance(pid, int):
        return UNKNOWN
    return sid == pid or (pid_namespace == "separate" and sid != 0)


def capability_sets(sets: dict[str, str]) -> dict:
    """Each capability set by name, from its hex mask (``unknown`` kept)."""
    named = {}
    for name, mask in sets.items():
        named[name] = mask if mask == UNKNOWN else capability_names(int(mask, 16))
    return named


def lost_layers(asked: dict, checked: dict, cgroup_asked: bool, child_in_cgroup: bool) -> list:
    """Each layer the plan asked for that the kernel does not show in force, in words."""
    lost = []
    if checked.get("reported") is False:
        return ["nothing could be checked: the child reported no isolation"]
    for name in asked.get("namespaces", []):
        state = checked["namespaces"].get(name, UNKNOWN)
        if state != "separate":
            lost.append(
                f"{name} namespace: {'shared with the judge' if state == 'shared' else state}"
            )
    if asked.get("network_cut") and checked["network"]["cut"] is not True:
        lost.append(f"network: not cut ({checked['network']['cut']})")
    seccomp = checked["seccomp"]
    if asked.get("seccomp") and seccomp["mode"] != "filter":
        lost.append(f"seccomp filter: mode {seccomp['mode']}")
    if asked.get("no_new_privs") and checked["no_new_privs"] is not True:
        lost.append(f"no_new_privs: {checked['no_new_privs']}")
    for name, names in checked["capabilities"].items():
        if asked.get("drop_capabilities") and names:  # every set empty, bounding included
            shown = names if names == UNKNOWN else ", ".join(names[:8]) + " ..." * (len(names) > 8)
            lost.append(f"capabilities ({name}): {shown}")
    if asked.get("new_session") and checked["new_session"] is not True:
        lost.append(f"new session: {checked['new_session']}")
    if asked.get("die_with_parent") and checked["parent_death_signal"] in (0, UNKNOWN):
        lost.append(f"parent-death signal: {checked['parent_death_signal']}")
    if cgroup_asked and not child_in_cgroup:
        lost.append("cgroup: the submission's process was not in the run's cgroup")
    return lost


def checked_isolation(
    facts: dict | None, judge: dict[str, str], asked: dict, cgroup_asked: bool,
    child_in_cgroup: bool,
) -> dict:  # fmt: skip
    """run.json's ``isolation.checked`` and ``isolation.lost``: what the child read back,
    compared with the judge's view and with what was ``asked``."""
    if facts is None:
        checked = {"reported": False}
        return {"checked": checked, "lost": lost_layers(asked, checked, cgroup_asked, False)}
    namespaces = namespace_states(facts.get("namespaces", {}), judge)
    checked = {
        "reported": True,
        "read": "by the child, from /proc/self, before the submission was imported",
        "namespaces": namespaces,
        "network": network_state(namespaces["net"], facts.get("interfaces", UNKNOWN)),
        "uid_map": facts.get("uid_map", UNKNOWN),
        "gid_map": facts.get("gid_map", UNKNOWN),
        "ids": facts.get("ids", UNKNOWN),
        "capabilities": capability_sets(facts.get("capabilities", {})),
        "no_new_privs": facts.get("no_new_privs", UNKNOWN),
        "seccomp": facts.get("seccomp", {"mode": UNKNOWN, "filters": UNKNOWN}),
        "mounts": facts.get("mounts", UNKNOWN),
        "rlimits": facts.get("rlimits", UNKNOWN),
        "cgroup": facts.get("cgroup", UNKNOWN),
        "new_session": new_session(facts, namespaces["pid"]),
        "parent_death_signal": facts.get("parent_death_signal", UNKNOWN),
    }
    return {"checked": checked, "lost": lost_layers(asked, checked, cgroup_asked, child_in_cgroup)}
