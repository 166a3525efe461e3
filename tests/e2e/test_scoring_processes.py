"""Two processes (``torchrun``) share the work and write the bytes one process writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from scoring import evaluate_args, lume_score


def _outputs(out: Path) -> dict[str, bytes]:
    return {name: (out / name).read_bytes() for name in ("scores.json", "items.jsonl", "mia.jsonl")}


@pytest.mark.slow
def test_two_processes_give_the_bytes_of_one(tiny_track: Path, tmp_path: Path):
    one, two = tmp_path / "one", tmp_path / "two"
    args = ("--json", "--batch-tokens", "400", "--bootstrap", "50", "--max-new-tokens", "48")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    single = lume_score(*evaluate_args(tiny_track, one, *args), env=env)
    assert single.returncode == 0, single.stderr
    launched = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node",
            "2",
            "--master_port",
            "29533",
            "-m",
            "scorer.cli",
            *evaluate_args(tiny_track, two, *args),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert launched.returncode == 0, launched.stderr[-3000:]
    assert _outputs(two) == _outputs(one)
    units = json.loads((two / "timings.json").read_text())["units_by_process"]
    assert sorted(units) == ["0", "1"]  # two ranks really ran
    assert all(units[rank]["computed"] > 0 for rank in units)
