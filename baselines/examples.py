"""Training examples: a forget/retain directory read as the contract gives it, tokenized, batched.

An example is ``tokenizer(input + output)`` with the prompt's tokens masked, so its loss
is the official answer NLL; ``train_prompt`` learns the prompt too. Labels follow the
Hugging Face convention (``losses.IGNORE`` marks a token without loss).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from baselines.losses import IGNORE
from scorer.contract import split_files
from scorer.data.lume import load_items
from scorer.data.records import Item
from scorer.errors import LumeError


@dataclass(frozen=True)
class Example:
    """Token ids of one example and its labels (``IGNORE`` where no loss is taken)."""

    input_ids: tuple[int, ...]
    labels: tuple[int, ...]


def split_file(directory: str | Path, split: str) -> Path:
    """``DIR/<split>.parquet`` (preferred) or ``DIR/<split>.jsonl``, as the contract gives."""
    for path in split_files(directory, split):
        if path.is_file():
            return path
    raise LumeError(f"{directory}: no {split}.parquet or {split}.jsonl")


def load_split(directory: str | Path, split: str) -> list[Item]:
    """The items of a forget (or retain) directory; an empty set is an error, not a no-op."""
    items = load_items(split_file(directory, split), expected_split=split)
    if not items:
        raise LumeError(f"{directory}: the {split} set is empty")
    return items


def make_example(tokenizer, item: Item, train_prompt: bool, max_length: int) -> Example:
    """``tokenizer(input + output)``, labels on the answer tokens (and the prompt if asked)."""
    ids = tokenizer(item.input + item.output)["input_ids"][:max_length]
    prompt_len = min(len(tokenizer(item.input)["input_ids"]), len(ids) - 1)
    labels = list(ids) if train_prompt else [IGNORE] * prompt_len + ids[prompt_len:]
    return Example(tuple(ids), tuple(labels))


def collate(examples: list, pad_id: int) -> dict[str, torch.Tensor]:
    """Right-padded ``input_ids``, ``attention_mask`` and ``labels`` of examples of any length.

    Takes anything with ``input_ids`` and ``labels`` (the mini target's examples too).
    """
    width = max(len(e.input_ids) for e in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    for row, e in enumerate(examples):
        ids[row, : len(e.input_ids)] = torch.tensor(e.input_ids)
        labels[row, : len(e.labels)] = torch.tensor(e.labels)
        mask[row, : len(e.input_ids)] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}
