"""run.json states what the kernel enforced: each layer of the sandbox weakened in turn, and
the record says exactly what was lost (facts read back by the child, never the plan)."""

from __future__ import annotations

import errno
import json
import platform
import shutil
from pathlib import Path

import needs
import pytest

from scorer.sandbox import bwrap, runner

from runs import checkpoint

FULL_NAMESPACES = {"cgroup", "ipc", "mnt", "net", "pid", "uts"}


def _without(flags: dict[str, int]):
    """A ``bwrap_argv`` that leaves out each flag (with its ``n`` arguments)."""
    real = bwrap.bwrap_argv

    def weakened(*args, **kwargs):
        argv = real(*args, **kwargs)
        kept, skip = [], 0
        for item in argv:
            if skip:
                skip -= 1
            elif item in flags and "--" not in kept:
                skip = flags[item]
            else:
                kept.append(item)
        return kept

    return weakened


WEAKENINGS = {
    "pid": ({"--unshare-pid": 0}, ["pid namespace: shared with the judge"]),
    "net": (
        {"--unshare-net": 0},
        ["net namespace: shared with the judge", "network: not cut (False)"],
    ),
    "ipc": ({"--unshare-ipc": 0}, ["ipc namespace: shared with the judge"]),
    "uts": ({"--unshare-uts": 0, "--hostname": 1}, ["uts namespace: shared with the judge"]),
    "cgroup": ({"--unshare-cgroup-try": 0}, ["cgroup namespace: shared with the judge"]),
    "seccomp": ({"--seccomp": 1}, ["seccomp filter: mode off"]),
    "session": ({"--new-session": 0}, ["new session: False"]),
    "parent-death": ({"--die-with-parent": 0}, ["parent-death signal: 0"]),
}


@needs.on("root")
@needs.on("bwrap")
def test_the_full_sandbox_loses_nothing_and_says_what_it_checked(run):
    record = run("writes_nothing")
    isolation = record["isolation"]
    assert isolation["lost"] == []
    namespaces = isolation["namespaces"]
    assert {n for n, state in namespaces.items() if state == "separate"} >= FULL_NAMESPACES
    assert isolation["network"]["cut"] is True
    assert [i["name"] for i in isolation["network"]["interfaces"]] == ["lo"]
    assert isolation["capabilities"] == dict.fromkeys(
        ("inheritable", "permitted", "effective", "bounding", "ambient"), []
    )
    assert isolation["seccomp"]["mode"] == "filter" and isolation["seccomp"]["filters"] >= 1
    writable = set(isolation["checked"]["mounts"]["writable"]["first"])
    assert {"/lume/outbox", "/lume/home", "/lume/cwd", "/tmp"} <= writable
    assert not {"/lume/model", "/lume/forget", "/usr"} & writable
    assert isolation["cgroups"]["limits"]["pids"] == 16384  # read back from the kernel


@pytest.mark.parametrize("layer", sorted(WEAKENINGS))
@needs.on("root")
@needs.on("bwrap")
def test_a_weakened_layer_is_recorded_as_lost(run, monkeypatch: pytest.MonkeyPatch, layer: str):
    flags, lost = WEAKENINGS[layer]
    monkeypatch.setattr(bwrap, "bwrap_argv", _without(flags))
    record = run("writes_nothing")
    assert record["isolation"]["lost"] == lost
    assert record["status"] == "invalid"  # the run itself still ends with its verdict


@needs.on("root")
@needs.on("bwrap")
def test_without_bwraps_capability_drop_the_childs_own_drop_still_holds(
    run, monkeypatch: pytest.MonkeyPatch
):
    """Two layers: bwrap's --cap-drop and the child's own (bounding set emptied, then the
    change of user). With the first gone, the record shows no capability: nothing lost."""
    monkeypatch.setattr(bwrap, "KEPT_CAPABILITIES", ())
    monkeypatch.setattr(runner, "_CAP_ADDS", set())
    monkeypatch.setattr(bwrap, "bwrap_argv", _without({"--cap-drop": 1}))
    record = run("writes_nothing")
    assert record["isolation"]["lost"] == []
    assert set(map(tuple, record["isolation"]["capabilities"].values())) == {()}


@needs.on("root")  # cgroups are created by a root runner here
def test_a_run_outside_its_cgroup_is_recorded_as_lost(
    run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    real = runner.supervisor_spec

    def no_cgroup(*args, **kwargs):
        spec = real(*args, **kwargs)
        spec["cgroup_name"] = "no/such/parent"  # mkdir fails in every hierarchy
        return spec

    monkeypatch.setattr(runner, "supervisor_spec", no_cgroup)
    record = run("writes_nothing")
    assert record["isolation"]["lost"] == [
        "cgroup: the submission's process was not in the run's cgroup"
    ]
    assert record["isolation"]["cgroups"]["limits"] == {"memory": None, "pids": None}


@needs.on("root")
@needs.on("bwrap")
def test_no_new_namespace_by_any_path_inside_the_sandbox(run, tmp_path: Path):
    """Under bwrap as the run's user: clone with namespace flags and unshare refused (EPERM),
    clone3 answered ENOSYS, io_uring and userfaultfd refused; plain processes still start."""
    assert platform.machine() == "x86_64", "the submission's call numbers are x86_64's"
    run("makes_namespaces")
    attempts = json.loads((checkpoint(tmp_path) / "attempts.json").read_text())
    assert attempts == {
        "clone user+net": errno.EPERM,
        "clone mount": errno.EPERM,
        "clone3": errno.ENOSYS,
        "unshare user": errno.EPERM,
        "setns": errno.EPERM,
        "io_uring_setup": errno.EPERM,
        "userfaultfd": errno.EPERM,
        "fork": 3,
    }


def _spinner_floor(out: Path) -> float:
    """The spinner's last word on its own CPU time (it prints it every 0.1 s of CPU)."""
    lines = (out / "submission.log").read_text().split("spinner cpu ")
    return float(lines[-1].split()[0])


@pytest.mark.parametrize("cgroups", [True, False], ids=["cgroup", "no-cgroup"])
def test_a_killed_orphans_cpu_is_counted(run, tmp_path: Path, cgroups: bool):
    """A spinner in its own session, deaf to SIGTERM, killed at the deadline: nobody waits
    for it, yet its CPU is in run.json (the cgroup's count, or the supervisor's samples).
    Compared with what the spinner itself said, so the machine's load does not matter."""
    record = run("spins_deaf", time_limit=4, grace=1.0, cgroups=cgroups)
    assert record["status"] == "timeout"
    floor = _spinner_floor(tmp_path / "out")
    assert floor > 0.5  # it really spun before it was killed
    assert floor <= record["cpu_seconds"] <= floor * 1.2 + 1.5  # + the child's start-up
    cpu = record["cpu"]
    if cgroups:
        assert cpu["measured_by"].startswith("the run's cgroup")
    else:  # the samples, or the rusage where the subreaper happened to reap the spinner
        assert cpu["measured_by"].endswith("(no cgroup)") and cpu["cgroup_seconds"] is None
    assert cpu["processes_sampled"] >= 2 and cpu["sampled_seconds"] >= floor - 0.5


def test_run_json_stays_bounded_whatever_the_submission_leaves(run, tmp_path: Path):
    """40,000 leftovers and 6 MB of status events: run.json keeps the first of each list
    with a count of the rest, and stays under 1 MB."""
    record = run("floods_record", time_limit=60)
    assert record["status"] == "ok"
    removed = record["removed_leftovers"]
    assert removed["more"] == 40_000 - len(removed["first"]) and len(removed["first"]) == 64
    assert removed["first"][0] == ".leftover-00000"
    events = record["events"]
    assert events["more"] > 0 and all(len(json.dumps(e)) <= 2000 for e in events["first"])
    assert (tmp_path / "out" / "run.json").stat().st_size < 1 << 20


def test_a_failed_supervisor_leaves_a_record_of_the_same_shape_with_unknowns(
    run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    """The supervisor's own failure is the host's: judge-error, every measure nobody took
    null (unknown, never 0), and the same fields as a supervised run's record."""
    normal = run("writes_nothing")
    for path in (tmp_path / "out").iterdir():
        (path.unlink() if path.is_file() else shutil.rmtree(path))

    def broken(spec, spec_path):
        raise RuntimeError("the supervisor failed (exit code 1); see its stderr")

    monkeypatch.setattr(runner, "supervise", broken)
    failed = run("writes_nothing")
    assert failed["status"] == "judge-error" and failed["scored"] is False
    assert failed["reason"].startswith("the judge could not supervise the run: the supervisor")
    assert failed["cpu_seconds"] is None and failed["peak_memory_bytes"] is None
    for part in ("memory", "cpu", "disk"):
        assert set(failed[part]) == set(normal[part]), part
    assert set(failed["isolation"]["cgroups"]) == set(normal["isolation"]["cgroups"])
    assert set(failed) == set(normal)
