"""Atomic Hugging Face checkpoints inside one directory, and when to save before a deadline.

A save writes the weights as new, uniquely named safetensors shards, then replaces
``model.safetensors.index.json`` in one ``os.replace``, then deletes the shards the old
index named. A kill at any instant therefore leaves an index that names complete shards:
the previous checkpoint or the new one. No write happens outside the output directory,
so a submission needs no permission on its parent. Tokenizer files are copied byte for
byte from the starting model (the scorer compares them with the reference's).
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from pathlib import Path

from safetensors import safe_open
from transformers.utils import logging as hf_logging

INDEX = "model.safetensors.index.json"
TOKENIZER_PREFIXES = ("tokenizer", "special_tokens_map", "vocab", "merges", "added_tokens")


def _fsync(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _weight_map(directory: Path) -> dict[str, str]:
    """Tensor name → shard file of a freshly saved directory (single file or sharded)."""
    index = directory / INDEX
    if index.is_file():
        return json.loads(index.read_text())["weight_map"]
    with safe_open(str(directory / "model.safetensors"), framework="pt") as handle:
        return dict.fromkeys(handle.keys(), "model.safetensors")


def _replace_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(text, encoding="utf-8")
    _fsync(tmp)
    os.replace(tmp, path)


def save_checkpoint(
    model, source_dir: str | Path, output_dir: str | Path, state_dict: dict | None = None
) -> None:
    """Save ``model`` (unwrapped) as a complete checkpoint in ``output_dir``, atomically.

    ``state_dict`` is the full state gathered by the caller when parameters are sharded
    (DeepSpeed ZeRO-3 / FSDP), so that one process can write the whole model.
    """
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    _clear_leftovers(out)
    hf_logging.disable_progress_bar()
    tag = uuid.uuid4().hex[:12]
    staging = out / f".staging-{tag}"
    try:
        model.save_pretrained(staging, safe_serialization=True, state_dict=state_dict)
        weight_map = _weight_map(staging)
        shards = sorted(set(weight_map.values()))
        renamed = {
            shard: f"model-{tag}-{i + 1:05d}-of-{len(shards):05d}.safetensors"
            for i, shard in enumerate(shards)
        }
        for shard, name in renamed.items():
            _fsync(staging / shard)
            os.replace(staging / shard, out / name)
        for extra in ("config.json", "generation_config.json"):
            if (staging / extra).is_file():
                _fsync(staging / extra)
                os.replace(staging / extra, out / extra)
        for item in sorted(Path(source_dir).iterdir()):
            if item.is_file() and item.name.startswith(TOKENIZER_PREFIXES):
                shutil.copyfile(item, staging / item.name)
                os.replace(staging / item.name, out / item.name)
        index = {
            "metadata": {"total_size": sum((out / n).stat().st_size for n in renamed.values())},
            "weight_map": {tensor: renamed[shard] for tensor, shard in sorted(weight_map.items())},
        }
        previous = _current_shards(out)
        _replace_text(out / INDEX, json.dumps(index, indent=2) + "\n")  # the commit point
        for stale in previous - set(renamed.values()):
            (out / stale).unlink(missing_ok=True)
        (out / "model.safetensors").unlink(missing_ok=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _clear_leftovers(out: Path) -> None:
    """Remove what an earlier save killed half-way left: staging dirs and temp files."""
    for leftover in out.glob(".staging-*"):
        shutil.rmtree(leftover, ignore_errors=True)
    for leftover in out.glob(".*.tmp"):
        leftover.unlink(missing_ok=True)


def _current_shards(out: Path) -> set[str]:
    index = out / INDEX
    if not index.is_file():
        return {p.name for p in out.glob("model-*.safetensors")}
    return set(json.loads(index.read_text())["weight_map"].values()) | {
        p.name for p in out.glob("model-*.safetensors")
    }


class SaveTimer:
    """Measures saves, to know when the next one must start to beat a deadline."""

    def __init__(self, first_guess_seconds: float = 5.0, margin_seconds: float = 2.0) -> None:
        self.longest = first_guess_seconds
        self.margin = margin_seconds
        self._started = 0.0
        self.measured = False

    def __enter__(self) -> SaveTimer:
        self._started = time.time()
        return self

    def __exit__(self, *exc) -> None:
        took = time.time() - self._started
        self.longest = took if not self.measured else max(self.longest, took)
        self.measured = True

    def must_save_now(self, deadline: float, next_step_seconds: float) -> bool:
        """True when one more step and then a save (with margin) might pass the deadline."""
        budget = 1.5 * self.longest + self.margin + next_step_seconds
        return time.time() + budget >= deadline
