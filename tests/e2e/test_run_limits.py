"""Limits that hold without a cgroup (memory held in an anonymous file, a flood of threads),
the disk limit, and a disk that fills up: run.json says what enforced each, and every run
ends with its record and a verdict that puts the fault where it lies."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import needs
import pytest

from scorer.sandbox.options import RunOptions
from scorer.sandbox.record import RESERVE, reserve_record_space, write_record
from scorer.sandbox.runner import run_submission

from runs import with_placeholder


@needs.on("root")  # memfd is seen through /proc/PID/fd and map_files of the run's uid
def test_memory_in_an_anonymous_file_counts_without_a_cgroup(run):
    record = run("hides_in_memfd", time_limit=60, cgroups=False, memory_limit_gb=0.3)
    assert record["status"] == "oom" and record["wall_seconds"] < 30
    memory = record["memory"]
    assert memory["peak_cgroup_bytes"] is None and memory["enforced_by"].startswith("polled")
    assert memory["peak_held_bytes"] > 300_000_000 > memory["peak_rss_sum_bytes"]
    assert any(c.startswith("memory held without a resident page") for c in memory["counted"])


@needs.on("root")  # RLIMIT_NPROC counts the run alone only on a uid of its own
def test_a_thread_flood_is_stopped_without_a_cgroup(run):
    record = run("many_threads", cgroups=False, pids_max=64)
    assert record["status"] == "failed"
    assert record["reason"] == "unlearn() raised: RuntimeError: can't start new thread"
    assert record["processes"] == {
        "limit": 64,
        "enforced_by": ["RLIMIT_NPROC on the run's own uid"],
    }


@needs.on("root")
@pytest.mark.parametrize("cgroups", [True, False], ids=["cgroup", "no-cgroup"])
def test_what_enforced_the_process_limit_is_read_back(run, cgroups: bool):
    record = run("writes_nothing", cgroups=cgroups, pids_max=512)
    by = ["RLIMIT_NPROC on the run's own uid"]
    assert record["processes"]["enforced_by"] == (["cgroup pids.max", *by] if cgroups else by)


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 16 MB file system of its own (tmpfs), unmounted after the test."""
    needs.root()
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_files_past_the_disk_limit_end_the_run_as_invalid(run):
    record = run("fills_disk", time_limit=60, disk_limit_gb=0.05)
    assert record["status"] == "invalid" and record["scored"] is False
    assert record["reason"] == "the run's files passed the disk limit (50000000 bytes)"
    assert record["ended_by"] == "disk" and record["wall_seconds"] < 30
    disk = record["disk"]
    assert disk["limit_bytes"] == 50_000_000 and disk["peak_bytes"] > 50_000_000
    assert disk["enforced_by"].startswith("polled every second")


def test_one_file_larger_than_the_disk_limit_cannot_be_written(run, tmp_path: Path):
    source = with_placeholder("fills_disk", tmp_path, "LINGER = 5", "LINGER = 0")
    text = source.read_text().replace('(home / f"junk-{n:04d}").write_bytes(chunk)', (
        'open(home / "one", "ab").write(chunk)'))  # fmt: skip
    source.write_text(text)
    record = run("fills_disk", source=source, time_limit=60, disk_limit_gb=0.02)
    assert "stopped writing: [Errno 27] File too large" in record["log"]["tail"]
    assert record["status"] == "invalid"  # returned without a checkpoint


def _run_on(disk: Path, tiny_track: Path, sets, source: Path, **options) -> dict:
    out = disk / "out"
    return run_submission(
        RunOptions(submission=source, model=tiny_track / "model", out=out, forget=sets[0],
                   retain=sets[1], time_limit=60, grace=1.0, **options)
    )  # fmt: skip


def test_a_disk_that_fills_under_the_limit_is_the_judges_fault_and_still_recorded(
    small_disk: Path, tiny_track: Path, sets, tmp_path: Path
):
    """A valid checkpoint, then the disk filled (no disk limit asked): the freeze meets
    ENOSPC; the run ends judge-error with the reason, and run.json is written."""
    source = with_placeholder("fills_disk", tmp_path, "SAVE_FIRST = False", "SAVE_FIRST = True")
    source.write_text(source.read_text().replace("LINGER = 5", "LINGER = 0"))
    record = _run_on(small_disk, tiny_track, sets, source)
    assert record["status"] == "judge-error" and record["scored"] is False
    assert record["reason"].startswith("the judge could not freeze the checkpoint: ")
    assert "No space left on device" in record["reason"]
    written = json.loads((small_disk / "out" / "run.json").read_text())
    assert written["status"] == "judge-error"
    assert list((small_disk / "out" / "checkpoint").iterdir()) == []  # the partial copy removed


def test_a_disk_filled_past_the_limit_is_the_submissions_fault(
    small_disk: Path, tiny_track: Path, sets, tmp_path: Path
):
    source = with_placeholder("fills_disk", tmp_path, "SAVE_FIRST = False", "SAVE_FIRST = True")
    source.write_text(source.read_text().replace("LINGER = 5", "LINGER = 0"))
    record = _run_on(small_disk, tiny_track, sets, source, disk_limit_gb=0.004)
    assert record["status"] == "invalid" and "disk limit (4000000 bytes)" in record["reason"]
    assert (small_disk / "out" / "run.json").is_file()


def test_run_json_is_written_into_the_space_reserved_for_it(small_disk: Path):
    out = small_disk / "out"
    out.mkdir()
    reserve_record_space(out)
    with open(small_disk / "filler", "wb") as handle, pytest.raises(OSError, match="No space"):
        while True:
            handle.write(b"x" * (1 << 20))
            handle.flush()
    record = {"status": "ok", "log": "y" * 500_000}
    write_record(out / "run.json", record)
    assert json.loads((out / "run.json").read_text()) == record
    assert not (out / RESERVE).exists()
