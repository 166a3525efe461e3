"""Fixtures of the baseline tests: the sets as unlearn() receives them, a memorized target."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from baselines import losses
from baselines.checkpoint import INDEX
from baselines.examples import collate, load_split, make_example
from scorer.data.files import write_items_parquet
from scorer.data.lume import load_lume

from tiny import TINY_TARGET, TINY_VOCAB, TINY_WORLD

# the tiny world's target, wider and trained until it has memorized it (seconds more)
MEMORIZING_TARGET = replace(
    TINY_TARGET, hidden_size=64, intermediate_size=128, epochs=80, learning_rate=3e-3,
    warm_epochs=80,
)  # fmt: skip


@dataclass(frozen=True)
class Sets:
    """A model and the forget/retain directories as the organizers hand them to unlearn()."""

    model: Path
    forget: Path
    retain: Path


def write_sets(track: Path, directory: Path) -> Sets:
    lume = load_lume(track / "dataset", "train")
    write_items_parquet(directory / "forget" / "forget.parquet", lume["forget"])
    write_items_parquet(directory / "retain" / "retain.parquet", lume["retain"])
    return Sets(track / "model", directory / "forget", directory / "retain")


@pytest.fixture()
def splits(tiny_track: Path, tmp_path: Path) -> tuple[Path, Path, Path]:
    """(model, forget dir, retain dir) of the tiny track (a barely trained target)."""
    sets = write_sets(tiny_track, tmp_path)
    return sets.model, sets.forget, sets.retain


@pytest.fixture(scope="session")
def memorized_sets(tmp_path_factory: pytest.TempPathFactory) -> Sets:
    """The tiny world with a target that has memorized it (forget NLL ~0.3 nats)."""
    from starter_kit.mini.build import BuildOptions, build_mini_track

    root = tmp_path_factory.mktemp("memorized")
    options = BuildOptions(vocab_size=TINY_VOCAB, target=MEMORIZING_TARGET, sizes=TINY_WORLD)
    build_mini_track(root / "track", options)
    return write_sets(root / "track", root)


def answer_nll(model_dir: Path, directory: Path, split: str) -> float:
    """Mean NLL of a set's answer tokens given their prompts (the official answer NLL)."""
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    examples = [make_example(tokenizer, i, False, 512) for i in load_split(directory, split)]
    batch = collate(examples, tokenizer.eos_token_id)
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    return losses.mean_nll(logits, batch["labels"]).item()


def assert_complete_checkpoint(out: Path, source: Path) -> None:
    """One index naming complete shards, no stale shard or leftover, the source's tokenizer."""
    index = json.loads((out / INDEX).read_text())
    shards = set(index["weight_map"].values())
    assert all((out / s).is_file() for s in shards)
    assert {p.name for p in out.glob("*.safetensors")} == shards  # no stale shards
    assert not list(out.glob(".*"))  # no staging leftovers
    for name in ("tokenizer.json", "tokenizer_config.json"):
        assert (out / name).read_bytes() == (source / name).read_bytes()
    AutoModelForCausalLM.from_pretrained(out, use_safetensors=True)


@pytest.fixture()
def complete_checkpoint() -> Callable[[Path, Path], None]:
    return assert_complete_checkpoint


@pytest.fixture()
def nll() -> Callable[[Path, Path, str], float]:
    return answer_nll
