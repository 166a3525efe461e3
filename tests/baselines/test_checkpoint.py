"""Atomic saves: a kill at any step of a save leaves the previous checkpoint or the new one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

from baselines.checkpoint import INDEX, save_checkpoint

# Saves one complete checkpoint of the model, then a second one of the model plus 1 in
# every weight, announcing each commit step of that second save on stdout ("replace NAME"
# before a file is moved into place, "unlink NAME" before an old shard is deleted) and
# waiting for a line on stdin before doing it: the parent can kill it at a known step.
SAVER = """
import os, pathlib, sys
import torch
from transformers import AutoModelForCausalLM
from baselines.checkpoint import save_checkpoint

source, out = sys.argv[1], sys.argv[2]
model = AutoModelForCausalLM.from_pretrained(source)
save_checkpoint(model, source, out)
with torch.no_grad():
    for parameter in model.parameters():
        parameter.add_(1.0)

def announce(event):
    print(event, flush=True)
    sys.stdin.readline()

real_replace, real_unlink = os.replace, pathlib.Path.unlink

def replace(src, dst):
    announce("replace " + os.path.basename(dst))
    real_replace(src, dst)

def unlink(path, missing_ok=False):
    if path.name.startswith("model-") and path.exists():
        announce("unlink " + path.name)
    real_unlink(path, missing_ok=missing_ok)

os.replace, pathlib.Path.unlink = replace, unlink
print("saving", flush=True)
save_checkpoint(model, source, out)
print("saved", flush=True)
"""

# Where to kill the second save, and which checkpoint must be found afterwards.
KILL_POINTS = {
    "replace model-": "previous",  # the new shard is complete, still in the staging dir
    f"replace {INDEX}": "previous",  # the new shard and config moved in, index not yet
    "unlink model-": "new",  # the index names the new shard, the old one is still there
}


def _tensors(directory: Path) -> dict[str, torch.Tensor]:
    index = json.loads((directory / INDEX).read_text())
    shards = sorted(set(index["weight_map"].values()))
    assert all((directory / s).is_file() for s in shards)  # no index names a missing file
    return {name: t for shard in shards for name, t in load_file(directory / shard).items()}


def _kill_during_save(model: Path, out: Path, kill_point: str) -> list[Path]:
    """Run SAVER until its second save announces ``kill_point``, then SIGKILL it there.

    Returns the staging directories present at that instant (the child was paused).
    """
    proc = subprocess.Popen(
        [sys.executable, "-c", SAVER, str(model), str(out)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        events = []
        for line in proc.stdout:
            event = line.strip()
            events.append(event)
            if event.startswith(kill_point):
                break
            assert event != "saved", f"the save ended before {kill_point!r}: {events}"
            if event.startswith(("replace", "unlink")):
                proc.stdin.write("go\n")
                proc.stdin.flush()
        else:
            pytest.fail(f"the saver exited before {kill_point!r}: {events}")
        assert "saving" in events  # the first checkpoint is complete; the second is under way
        staging = sorted(out.glob(".staging-*"))
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    return staging


@pytest.mark.parametrize("kill_point", KILL_POINTS)
def test_a_kill_during_a_save_leaves_a_complete_checkpoint(
    kill_point, tiny_track, tmp_path, complete_checkpoint
):
    model, out = tiny_track / "model", tmp_path / "out"
    staging = _kill_during_save(model, out, kill_point)
    assert len(staging) == 1  # killed mid-save: its staging directory is not yet removed

    previous = load_file(model / "model.safetensors")
    found = _tensors(out)
    assert found.keys() == previous.keys()
    offset = 0.0 if KILL_POINTS[kill_point] == "previous" else 1.0
    for name, tensor in found.items():
        torch.testing.assert_close(tensor, previous[name] + offset, rtol=0, atol=0)
    AutoModelForCausalLM.from_pretrained(out, use_safetensors=True)

    # the next save clears what the kill left half-way
    save_checkpoint(AutoModelForCausalLM.from_pretrained(model), model, out)
    complete_checkpoint(out, model)
