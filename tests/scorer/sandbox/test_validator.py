"""Validation in its own limited process: a report when it works; one line, never a crash
of the judge, when the checkpoint makes it take too much memory, CPU, time or output."""

from __future__ import annotations

import json
import os
import shutil
import signal
import struct
import threading
import time
from pathlib import Path

import pytest

from scorer.checkpoint.limits import Limits
from scorer.sandbox.validator import GiB, Validator, ValidatorLimits

MiB = 1 << 20
# A judge that loosened the header and size caps: a header of 400,000 empty tensors is
# then parsed (~8 CPU s and ~420 MB over the imports, measured in one process).
LOOSE = Limits(total_bytes=10**9, header_bytes_per_tensor=10**6, max_tensors=10**7)
FLOOD = 400_000


def flood(model: Path, target: Path, entries: int = FLOOD) -> Path:
    """A copy of ``model`` whose weights file is a header of ``entries`` empty tensors."""
    shutil.copytree(model, target)
    header = {
        f"t{i}": {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]} for i in range(entries)
    }
    raw = json.dumps(header).encode()
    (target / "model.safetensors").write_bytes(struct.pack("<Q", len(raw)) + raw)
    return target


@pytest.fixture(scope="module")
def flooded(tiny_track: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return flood(tiny_track / "model", tmp_path_factory.mktemp("flood") / "checkpoint")


def wait_ready(folder: Path, attempt: int = 1) -> None:
    """Until the child has done its imports (as when the submission ran long enough)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        out = folder / f"out-{attempt}"
        if out.exists() and b'"ready"' in out.read_bytes():
            return
        time.sleep(0.05)
    raise AssertionError("the validator never got ready")


def validate(tiny_track: Path, folder: Path, checkpoint: Path, limits=Limits(), **bounds):
    """One validation by a started, ready child (trial off: the limits are the point)."""
    validator = Validator(tiny_track / "model", folder, ValidatorLimits(**bounds), trial=False)
    validator.start()
    try:
        wait_ready(folder)
        return validator.validate(checkpoint, 0, limits)
    finally:
        validator.close()


def test_a_good_checkpoint_gives_the_report_and_the_process_record(
    tiny_track, tmp_path, monkeypatch
):
    from scorer.sandbox import validator as module

    monkeypatch.setattr(module, "PASSED_TRIALS", set())
    phases: dict[str, list[int]] = {}

    def progress(phase, total):
        phases[phase] = [total, 0]
        return lambda n: phases[phase].__setitem__(1, phases[phase][1] + n)

    size = sum(f.stat().st_size for f in (tiny_track / "model").iterdir())
    outcomes = []
    for attempt in range(2):  # the second: the same config.json bytes, its trial passed
        validator = Validator(tiny_track / "model", tmp_path / f"v{attempt}", trial=True)
        assert validator.preload_trial is (attempt == 0)
        validator.start()
        try:
            outcomes.append(
                validator.validate(tiny_track / "model", size, Limits(), progress=progress,
                                   config_sha256="c0ffee")
            )  # fmt: skip
        finally:
            validator.close()
    outcome, again = outcomes
    assert outcome.error is None and outcome.report.ok
    assert outcome.report.tensors_checked == 9
    process = outcome.process
    assert process["exit_code"] == 0 and process["started"] and process["error"] is None
    assert process["cpu_seconds"] > 0 and process["max_rss_bytes"] > 50 * MiB
    assert process["address_space_bytes"] == process["imports_bytes"] + 2 * GiB
    assert process["limits"]["cpu_seconds"] == pytest.approx(60 + 20 * size / GiB)
    assert phases["finite (MiB)"] == [1, 1]  # relayed from the child's progress lines
    assert process["trial"] == "ran"
    assert "c0ffee" in module.PASSED_TRIALS and len(module.PASSED_TRIALS) == 1
    assert again.report.ok and again.process["trial"] == "passed before"
    assert again.process["cpu_seconds"] < process["cpu_seconds"]  # transformers not imported


def test_a_memory_blow_up_is_one_line(tiny_track, tmp_path, flooded):
    outcome = validate(tiny_track, tmp_path, flooded, LOOSE, memory_bytes=128 * MiB)
    assert outcome.report is None
    assert outcome.error.startswith(
        "validation failed: it needed more than its memory limit (0.125 GiB): MemoryError"
    )
    assert outcome.process["started"] and outcome.process["exit_code"] == 3


def test_cpu_time_past_the_limit_is_one_line(tiny_track, tmp_path, flooded):
    outcome = validate(tiny_track, tmp_path, flooded, LOOSE, cpu_seconds=1, cpu_seconds_per_gib=0)
    assert outcome.error == "validation failed: it was killed by SIGXCPU (CPU limit 1 s)"
    assert outcome.process["exit_code"] == -signal.SIGXCPU
    assert outcome.process["cpu_limit_seconds"] - outcome.process["cpu_seconds"] < 2


def test_wall_clock_time_past_the_limit_is_one_line(tiny_track, tmp_path, flooded):
    outcome = validate(tiny_track, tmp_path, flooded, LOOSE, wall_seconds=1, wall_seconds_per_gib=0)
    assert outcome.error == "validation failed: it took longer than 1 s and was stopped"
    assert outcome.process["exit_code"] == -signal.SIGKILL and outcome.process["prewarmed"]
    assert outcome.process["seconds"] < 10


def test_output_past_its_cap_is_one_line(tiny_track, tmp_path):
    outcome = validate(tiny_track, tmp_path, tiny_track / "model", output_bytes=400)
    assert outcome.error == "validation failed: its output passed 400 bytes"
    assert outcome.process["output_bytes"] == 400


def test_a_crash_after_it_started_is_the_checkpoints_and_one_line(tiny_track, tmp_path, flooded):
    """Killed by SIGSEGV while it parses: no retry (it had the checkpoint), one line."""
    validator = Validator(tiny_track / "model", tmp_path / "v", ValidatorLimits(), trial=False)

    def crash_once_started() -> None:
        out = tmp_path / "v" / "out-1"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if out.exists() and b'"started"' in out.read_bytes():
                os.kill(validator.process.pid, signal.SIGSEGV)
                return
            time.sleep(0.02)

    killer = threading.Thread(target=crash_once_started)
    validator.start()
    killer.start()
    try:
        outcome = validator.validate(flooded, 0, LOOSE)
    finally:
        killer.join()
        validator.close()
    assert outcome.error == "validation failed: it was killed by SIGSEGV"
    assert "first_attempt" not in outcome.process and validator.starts == 1


def test_a_child_gone_before_the_checkpoint_is_started_again(tiny_track, tmp_path):
    """Not the checkpoint's fault (the machine's OOM killer, a stray signal): once more."""
    validator = Validator(tiny_track / "model", tmp_path / "v", ValidatorLimits(), trial=False)
    validator.start()
    os.kill(validator.process.pid, signal.SIGKILL)
    try:
        outcome = validator.validate(tiny_track / "model", 0, Limits())
    finally:
        validator.close()
    assert outcome.error is None and outcome.report.ok and validator.starts == 2
    assert outcome.process["first_attempt"]["started"] is False
    assert outcome.process["first_attempt"]["error"] == "it was killed by SIGKILL"


def test_a_run_whose_validation_blows_its_memory_ends_invalid_with_the_reason(run):
    """Through the whole runner: the judge survives, run.json says why."""
    record = run(
        "floods_header",
        limits=LOOSE,
        validator=ValidatorLimits(memory_bytes=128 * MiB),
    )
    assert record["status"] == "invalid" and not record["scored"]
    assert record["reason"].startswith(
        "unlearn() returned but the checkpoint is missing or invalid: validation failed: "
        "it needed more than its memory limit (0.125 GiB): MemoryError"
    )
    validation = record["validation"]
    assert [v["rule"] for v in validation["violations"]] == ["validator-error"]
    assert validation["process"]["started"] and validation["process"]["exit_code"] == 3
    assert validation["process"]["limits"]["memory_bytes_over_imports"] == 128 * MiB


def test_a_validator_that_cannot_start_is_one_line(tiny_track, tmp_path, monkeypatch):
    monkeypatch.setattr("sys.executable", str(tmp_path / "no-python"))
    validator = Validator(tiny_track / "model", tmp_path / "v", trial=False)
    validator.start()  # never raises: the run goes on to its verdict
    outcome = validator.validate(tiny_track / "model", 0, Limits())
    validator.close()
    assert outcome.report is None
    assert outcome.error.startswith("validation failed: its process could not start: [Errno 2]")
