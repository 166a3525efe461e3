"""Texts to batches for the batched engine: tokenization, length batching and padding.

Inputs are sorted by length and grouped under a token budget, so a batch holds similar
lengths (little padding) and its memory stays bounded; padding puts each row's real tokens
where the engine reads them (left for generation and next-token choice, right for NLLs).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import torch

from scorer.engine.model import LoadedModel

Cost = Callable[[int, int], int]  # (rows, longest row) -> tokens the batch holds


def encode(lm: LoadedModel, texts: Sequence[str]) -> list[list[int]]:
    """Token ids of each text with the tokenizer's defaults (special tokens as the
    tokenizer adds them, as the official script); one batched call, which gives each text
    its own ids, is far faster than one call per text."""
    return lm.tokenizer(list(texts))["input_ids"] if texts else []


def length_batches(lengths: Sequence[int], cost: Cost, budget: int) -> Iterator[list[int]]:
    """Indices sorted by length (longest first), grouped while ``cost(n, longest) ≤ budget``:
    similar lengths waste little padding, and the first batch is the largest, so a budget
    too big for memory fails at once rather than at the end."""
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    batch: list[int] = []
    for i in order:
        longest = lengths[batch[0]] if batch else lengths[i]
        if batch and cost(len(batch) + 1, longest) > budget:
            yield batch
            batch = []
        batch.append(i)
    if batch:
        yield batch


def equal_length_batches(lengths: Sequence[int], cost: Cost, budget: int) -> Iterator[list[int]]:
    """:func:`length_batches` inside each group of equal lengths (longest first): no row is
    padded, so each row runs the shapes it runs alone but for the batch dimension."""
    groups: dict[int, list[int]] = {}
    for i, n in enumerate(lengths):
        groups.setdefault(n, []).append(i)
    for n in sorted(groups, reverse=True):
        members = groups[n]
        for batch in length_batches([n] * len(members), cost, budget):
            yield [members[j] for j in batch]


def generation_cost(max_new_tokens: int) -> Cost:
    """Tokens a generation batch of ``n`` prompts of width ``longest`` may hold: its cache
    grows by up to ``max_new_tokens`` per row."""
    return lambda n, longest: n * (longest + max_new_tokens)


def padded(
    rows: Sequence[Sequence[int]],
    pad_id: int,
    device: torch.device,
    left: bool,
    ends: Sequence[int] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Ids and attention mask of ``rows`` padded to one width, on the left or the right
    (or, with ``ends``, each row ending at its own column: padding on both sides), so that
    rows of different lengths run as one tensor."""
    ends = list(ends) if ends is not None else None
    width = max(ends) if ends else max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        if ends:
            span = slice(ends[i] - len(row), ends[i])
        else:
            span = slice(width - len(row), width) if left else slice(0, len(row))
        ids[i, span] = torch.tensor(row, dtype=torch.long)
        mask[i, span] = 1
    return ids.to(device), mask.to(device)


def left_positions(mask: torch.Tensor) -> torch.Tensor:
    """Position ids that start at 0 on each row's first real token: a left-padded row then
    sees the positions it would see alone."""
    return (mask.cumsum(-1) - 1).clamp(min=0)
