"""The run's record, ``OUT/run.json``: what happened, what it cost, what was isolated.

Built from the supervisor's record, the staged work directory, the validation report and
the verdict; written atomically. The field names and their order are a file format that
leaderboards and organizers read: change them only with docs/formats.md and docs/sandbox.md.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime, timezone
from pathlib import Path

from scorer import __version__
from scorer.checkpoint.report import ValidationReport
from scorer.contract import UNLEARN_ARGUMENTS
from scorer.data.files import write_bytes_atomic
from scorer.errors import LumeError
from scorer.sandbox.facts import UNKNOWN, bounded, checked_isolation
from scorer.sandbox.isolation import RunUser
from scorer.sandbox.options import RunOptions
from scorer.sandbox.protocol import EVENT_ISOLATION
from scorer.sandbox.staging import Work
from scorer.sandbox.verdict import Verdict

LOG_TAIL_CHARS = 4000
# facts shown at the top of run.json's isolation; the rest read back stays under "checked"
HEADLINE_FACTS = ("capabilities", "no_new_privs", "seccomp", "namespaces", "network")
PEAK_MEASURES = (
    "peak_cgroup_bytes",
    "peak_rss_sum_bytes",
    "max_rss_one_process_bytes",
    "peak_held_bytes",
)
MAX_EVENTS_RECORDED = 20
MAX_EVENT_BYTES = 2000  # a longer event (the submission can write on the pipe) is cut
MAX_RECORD_BYTES = 1 << 20  # run.json stays under 1 MB whatever the submission does


def log_tail(path: Path) -> str:
    """The last characters of the submission's log: why it failed, at a glance in run.json."""
    try:
        with open(path, "rb") as handle:
            handle.seek(max(0, path.stat().st_size - LOG_TAIL_CHARS * 4))
            text = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    return text[-LOG_TAIL_CHARS:]


def memory_coverage(mode: str, memory_cgroup: bool) -> dict[str, list[str]]:
    """What the run's memory measures (and ``--memory-limit``) count, and what they miss:
    without bubblewrap there is no private tmpfs, so files a submission leaves in the
    machine's tmpfs are counted only where a memory cgroup charges their pages to it."""
    counted = ["resident memory of every process of the run (polled), shared memory it maps"]
    missed = ["GPU memory (measured apart, through NVML)"]
    if mode == "bwrap":
        counted.append(
            "the run's private tmpfs (/tmp, /var/tmp, /dev/shm, /run/lock, /var/lock), "
            "each sized to the memory limit"
        )
    if memory_cgroup:
        counted.append("the memory cgroup's charge: page cache and tmpfs pages the run wrote")
    elif mode != "bwrap":
        missed.append(
            "files written to the machine's tmpfs (/dev/shm, /run/lock, /tmp where it is "
            "tmpfs) and not mapped: no private tmpfs without bubblewrap, no memory cgroup"
        )
    if not memory_cgroup:
        counted.append(
            "memory held without a resident page: memfd, POSIX and SysV shared memory, "
            "shared anonymous mappings, each object once at its allocated size"
        )
        missed.append("page cache and kernel memory (no memory cgroup)")
    return {"counted": counted, "not_counted": missed}


def process_limit(options: RunOptions, supervision: dict, user: RunUser | None) -> dict:
    """The process limit and what enforced it, read back: the cgroup's ``pids.max`` and the
    child's ``RLIMIT_NPROC`` (which counts the run alone only on a uid of its own)."""
    asked = options.pids_max
    by = []
    if asked is not None and supervision["cgroups"].get("limits", {}).get("pids") == asked:
        by.append("cgroup pids.max")
    reports = [e for e in supervision.get("events", []) if e.get("event") == EVENT_ISOLATION]
    nproc = (reports[0].get("rlimits") or {}).get("NPROC") if reports else None
    if asked is not None and user is not None and nproc and nproc[0] == asked:
        by.append("RLIMIT_NPROC on the run's own uid")
    return {"limit": asked, "enforced_by": by or None}


def isolation_record(
    supervision: dict, user: RunUser | None, options: RunOptions, plan: dict
) -> dict:
    """What isolation the run had: what was ``asked`` (the plan), what was ``checked`` (read
    back from the kernel by the child before the submission was imported, compared with the
    judge's own namespaces: ``scorer.sandbox.facts``) and what was ``lost`` (asked, not in
    force); never what was hoped for. Notes say what not to assume."""
    reports = [e for e in supervision.get("events", []) if e.get("event") == EVENT_ISOLATION]
    report = {k: v for k, v in reports[0].items() if k not in ("event", "at")} if reports else None
    asked = plan.get("asked", {})
    judged = checked_isolation(
        report,
        supervision.get("judge_namespaces") or {},
        asked,
        cgroup_asked=bool(options.cgroups),
        child_in_cgroup=bool(supervision.get("child_in_cgroup")),
    )
    report = report or {}
    checked = judged["checked"]
    notes = []
    if plan.get("mode") != "bwrap":
        notes.append(
            "--isolation none: the submission ran as the runner's user and saw the whole "
            "machine (files, network, other processes); for trusted, local runs only"
        )
        notes.append(
            "--isolation none: no private tmpfs; files left in /tmp, /dev/shm, /run/lock or "
            "/var/lock stay after the run (nothing removes them), and count against the "
            "memory limit only through a memory cgroup (memory.counted says what counted)"
        )
    elif os.geteuid() != 0:
        notes.append(
            "the runner is not root: the submission ran as the runner's own user, so the "
            "runner's own files were protected by nothing but the view"
        )
    if not reports:
        notes.append("the child reported no isolation (it ended before isolating)")
    network = checked.get("network", {"cut": UNKNOWN})
    return {
        "mode": plan.get("mode"),
        "runner_uid": os.geteuid(),
        "run_uid": user.uid if user else None,
        "user": report.get("user"),
        "groups": report.get("groups"),
        "capabilities": checked.get("capabilities"),
        "no_new_privs": checked.get("no_new_privs"),
        "seccomp": {**plan.get("seccomp", {"installed": False}), **checked.get("seccomp", {})},
        "pid_in_sandbox": report.get("pid"),
        "hostname": report.get("hostname"),
        "namespaces": checked.get("namespaces"),
        "network": network,
        "lost": judged["lost"],
        "checked": {k: v for k, v in checked.items() if k not in HEADLINE_FACTS},
        "asked": asked,
        "view": plan.get("visible"),
        "die_with_parent": checked.get("parent_death_signal", UNKNOWN),  # the signal, read back
        "new_session": checked.get("new_session", UNKNOWN),
        "subreaper": True,  # the supervisor stops with an error where it cannot be one
        "cgroups": supervision["cgroups"],
        "child_in_cgroup": supervision["child_in_cgroup"],
        "kill_methods": supervision["kill_methods"],
        "uid_processes_left": bounded(supervision.get("uid_processes_left", [])),
        "inputs": {
            "model": "read-only, staged",
            "forget_retain": "read-only copies",
            "submission": "read-only copy",
        },
        "gpus": {
            "granted": list(options.gpus),
            "device_files": (plan.get("visible") or {}).get("devices", []),
            "fenced": plan.get("mode") == "bwrap",
            "why": "only the granted GPUs' device files exist in the view"
            if plan.get("mode") == "bwrap"
            else "only CUDA_VISIBLE_DEVICES limits the devices",
        },
        "environment": sorted(supervision.get("environment_names", [])),  # the organizer's
        "notes": notes,
    }


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build_record(
    options: RunOptions,
    supervision: dict,
    user: RunUser | None,
    work: Work,
    report: ValidationReport,
    verdict: Verdict,
    plan: dict,
) -> dict:
    """run.json's body (``scores`` still None): the verdict, the usage, the isolation, the
    validation and the log's tail. ``work`` must still exist (the submission is hashed)."""
    status, reason, scored = verdict
    memory = supervision["memory"]
    measures = [memory[k] for k in PEAK_MEASURES if memory.get(k) is not None]
    peak = max(measures) if measures else None  # the largest: each misses what others see
    return {
        "submission": options.submission.name,
        "submission_sha256": _sha256(work.submission),
        "track": options.track,
        "status": status,
        "reason": reason,
        "exit_code": supervision["exit_code"],
        "ended_by": supervision["ended_by"],
        "scored": scored,
        "on_timeout": options.on_timeout,
        "time_limit_seconds": options.time_limit,
        "grace_seconds": options.grace,
        "wall_seconds": supervision["wall_seconds"],
        "returned_after_seconds": supervision["returned_after_seconds"],
        "seconds_after_deadline": supervision["seconds_after_deadline"],
        "cpu_seconds": supervision["cpu_seconds"],
        "cpu_user_seconds": supervision["cpu_user_seconds"],
        "cpu_system_seconds": supervision["cpu_system_seconds"],
        "cpu": supervision.get("cpu"),
        "peak_memory_bytes": peak,
        "memory": {
            **memory,
            **memory_coverage(plan.get("mode", "none"), bool(supervision["cgroups"].get("memory"))),
        },
        "processes": process_limit(options, supervision, user),
        "disk": supervision.get("disk"),
        "gpu": supervision["gpu"] if options.gpus else None,
        "processes_signalled": supervision["processes_signalled"],
        "survivors": bounded(supervision["survivors"]),
        "isolation": isolation_record(supervision, user, options, plan),
        "validation": report.to_json(),
        "scores": None,
        "log": {
            "file": "submission.log",
            "bytes": supervision["log_bytes"],
            "truncated": supervision["log_truncated"],
            "tail": log_tail(options.out / "submission.log"),
        },
        "events": bounded_events(supervision["events"]),
        "unlearn_arguments": list(UNLEARN_ARGUMENTS),
    }


def runner_record(
    started: float, staged: float, supervised: float, validated: float, supervision: dict
) -> dict:
    """run.json's ``runner``: the kit's version and its own overhead, apart from the
    submission's time (all arguments are ``time.time()`` stamps)."""
    return {
        "version": __version__,
        "started_at": datetime.fromtimestamp(started, timezone.utc).isoformat(),
        "staging_seconds": staged - started,
        "supervisor_overhead_seconds": (supervised - staged) - supervision["wall_seconds"],
        "validation_seconds": validated - supervised,
        "overhead_seconds": (validated - started) - supervision["wall_seconds"],
    }


def bounded_events(events: list[dict]) -> dict:
    """The status events (the isolation report apart): the first ``MAX_EVENTS_RECORDED``,
    each cut to its event name and time when its JSON passes ``MAX_EVENT_BYTES``."""
    kept = [e for e in events if e.get("event") != EVENT_ISOLATION]
    shown = []
    for event in kept[:MAX_EVENTS_RECORDED]:
        size = len(json.dumps(event, default=str))
        if size > MAX_EVENT_BYTES:
            event = {"event": str(event.get("event"))[:100], "at": event.get("at"), "cut": size}
        shown.append(event)
    return {"first": shown, "more": max(0, len(kept) - MAX_EVENTS_RECORDED)}


def record_bytes(record: dict) -> bytes:
    """run.json's bytes; a record past ``MAX_RECORD_BYTES`` (no list in it is unbounded,
    so only a bug gets here) keeps its verdict, usage and scores and says what was cut."""
    data = (json.dumps(record, indent=2) + "\n").encode("utf-8")
    if len(data) <= MAX_RECORD_BYTES:
        return data
    kept = ("submission", "submission_sha256", "track", "status", "reason", "scored",
            "exit_code", "ended_by", "wall_seconds", "cpu_seconds", "peak_memory_bytes",
            "checkpoint_sha256", "scores", "run_id")  # fmt: skip
    cut = {k: record[k] for k in kept if k in record}
    cut["cut"] = f"run.json was {len(data)} bytes, over {MAX_RECORD_BYTES}: only these kept"
    return (json.dumps(cut, indent=2) + "\n").encode("utf-8")


RESERVE = ".run.json.reserve"


def reserve_record_space(out: Path) -> None:
    """Hold ``MAX_RECORD_BYTES`` of disk for run.json from the start (a file the judge
    frees just before writing it): a submission or a host that fills the disk cannot
    leave the run without its record. Raises ``LumeError`` when even that is not there."""
    try:
        fd = os.open(out / RESERVE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.posix_fallocate(fd, 0, MAX_RECORD_BYTES)
        finally:
            os.close(fd)
    except OSError as err:
        (out / RESERVE).unlink(missing_ok=True)
        raise LumeError(f"--out {out}: no room for run.json ({err.strerror})") from None


def write_record(path: Path, record: dict) -> None:
    """Write run.json atomically, into the space reserved for it: a reader sees the whole
    record or none."""
    (path.parent / RESERVE).unlink(missing_ok=True)
    write_bytes_atomic(path, record_bytes(record))
