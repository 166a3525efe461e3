"""Attention by row length: left-padded generation batches whose every row computes what it
computes alone, bit for bit, at the speed of one padded batch.

In reduced precision the per-item loop's greedy path is fragile: two tokens are often
tied to the last bit, so the batched engine must reproduce the per-item logits exactly,
not nearly. On CPU the linear layers, norms and rotary embeddings of a token do not depend
on the other rows of a batch (measured: bf16 matrix products give the same bits for 1, 8
and 64 rows); attention does: a masked, padded row reduces over a longer key vector, and
its sums round differently. Here attention runs once per group of rows holding the same
number of real tokens, on their real queries and keys only, through transformers' own
``sdpa_attention_forward`` with no mask, exactly the call the per-item loop makes; the
rest of the model still runs on the whole padded batch.

:func:`rows_are_exact` checks the premise on the loaded model and device (a padded pair
against each row alone, prefill and one decoding step); where it fails (another device's
kernels may depend on the batch size), generation falls back to batches of equal prompt
length (:func:`generation_layout`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

import torch
from transformers import AttentionInterface, DynamicCache
from transformers.integrations.sdpa_attention import sdpa_attention_forward

from scorer.engine.model import LoadedModel

Layout = Literal["padded", "equal prompt length", "by row"]
ROW_ATTENTION = "lume_by_row"  # the attention implementation's registered name

RowGroups = list[tuple[int, int, int]]  # (real tokens, first row, end row) of each run


def length_groups(positions: torch.Tensor) -> RowGroups:
    """Runs of consecutive rows holding the same number of real tokens, from each row's
    last position id (left padding: a row at position ``p`` holds the last ``p + 1``
    keys). Batches are sorted by length, so a run is usually all rows of one length, and
    a run is a slice of the batch: no gathering."""
    groups: RowGroups = []
    for row, real in enumerate((positions[:, -1] + 1).tolist()):
        if groups and groups[-1][0] == real:
            groups[-1] = (real, groups[-1][1], row + 1)
        else:
            groups.append((real, row, row + 1))
    return groups


def attention_by_row(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    position_ids: torch.Tensor | None = None,
    **kwargs,
) -> tuple[torch.Tensor, None]:
    """SDPA per run of rows of equal real length, on the real queries and keys only (the
    padding is left of them), unmasked as a single row runs; padded queries get zeros.
    The runs come from the position ids the model hands every attention call; a model
    that does not hand them fails the self-check and is never attended by row."""
    if position_ids is None:
        raise ValueError("attention by row needs the rows' position ids")
    q_length, k_length = query.shape[2], key.shape[2]
    parts = []
    for real, first, end in length_groups(position_ids):
        first_query = max(0, q_length - real)
        got, _ = sdpa_attention_forward(
            module,
            query[first:end, :, first_query:],
            key[first:end, :, k_length - real :],
            value[first:end, :, k_length - real :],
            None,
            **kwargs,
        )
        if first_query:  # the padded queries' outputs are never read: zeros
            got = torch.cat([got.new_zeros((end - first, first_query, *got.shape[2:])), got], 1)
        parts.append(got)
    return (parts[0] if len(parts) == 1 else torch.cat(parts)), None


AttentionInterface.register(ROW_ATTENTION, attention_by_row)


def attention_implementation(model: torch.nn.Module) -> str | None:
    """The attention implementation the model runs now. transformers has a public setter
    (``set_attn_implementation``) but no public getter: this is the one place that reads
    its private ``config._attn_implementation`` (a test fails loudly if it moves)."""
    return model.config._attn_implementation


@contextmanager
def by_row(model: torch.nn.Module) -> Iterator[None]:
    """The model's attention runs by row inside the block (its own implementation after),
    switched through transformers' public ``set_attn_implementation``. Raises
    ``ValueError`` for a model that cannot switch (transformers only warns), so the
    self-check fails instead of attending the padding."""
    before = attention_implementation(model)
    model.set_attn_implementation(ROW_ATTENTION)
    try:
        if attention_implementation(model) != ROW_ATTENTION:
            raise ValueError(f"{type(model).__name__} cannot switch its attention implementation")
        yield
    finally:
        model.set_attn_implementation(before)


def _next_logits(lm: LoadedModel, ids, cache, **inputs) -> torch.Tensor:
    """Each row's next-token logits after ``ids``, the cache extended."""
    out = lm.model(input_ids=ids, cache=cache, use_cache=True, logits_to_keep=1, **inputs)
    return out.logits[:, -1]


@torch.inference_mode()
def rows_are_exact(lm: LoadedModel) -> bool:
    """Whether a left-padded pair, attended by row, gives each row's logits alone bit for
    bit, at the prefill and at one decoding step, on this model and device."""
    config, device = lm.model.config, lm.device
    rows = [[(7 * i + 3) % config.vocab_size for i in range(n)] for n in (5, 2)]
    alone, steps = [], []
    for row in rows:  # as model.generate runs one prompt: an all-ones mask
        ids = torch.tensor([row], device=device)
        cache = DynamicCache(config=config)
        first = _next_logits(lm, ids, cache, attention_mask=torch.ones_like(ids))
        step = first.argmax(-1, keepdim=True)
        ones = torch.ones((1, len(row) + 1), dtype=torch.long, device=device)
        alone.append((first[0], _next_logits(lm, step, cache, attention_mask=ones)[0]))
        steps.append(step)
    width = max(len(r) for r in rows)
    ids = torch.tensor([[0] * (width - len(r)) + r for r in rows], device=device)
    positions = torch.tensor(
        [[0] * (width - len(r)) + list(range(len(r))) for r in rows], device=device
    )
    cache = DynamicCache(config=config)
    with by_row(lm.model):
        first = _next_logits(lm, ids, cache, position_ids=positions)
        second = _next_logits(lm, torch.cat(steps), cache, position_ids=positions[:, -1:] + 1)
    return all(
        torch.equal(first[i], a) and torch.equal(second[i], b) for i, (a, b) in enumerate(alone)
    )


def plain_causal(config) -> bool:
    """Whether every layer attends to all earlier tokens (no sliding window, no chunks):
    only then is an unmasked causal call what the model's own mask would compute."""
    if getattr(config, "sliding_window", None) and getattr(config, "use_sliding_window", True):
        return False
    if getattr(config, "attention_chunk_size", None):
        return False
    return all(kind == "full_attention" for kind in getattr(config, "layer_types", None) or ())


def generation_layout(lm: LoadedModel) -> Layout:
    """How generation batches are laid out: padded in float32 (its rounding is far below
    the margins, ``scorer.engine.margins``); in reduced precision by row where the model's
    attention is plainly causal and the self-check holds on this model and device (an
    architecture whose attention takes more than query, key and value fails it), else in
    batches of equal prompt length (no padding)."""
    if next(lm.model.parameters()).dtype == torch.float32:
        return "padded"
    if not plain_causal(lm.model.config):
        return "equal prompt length"
    try:
        exact = rows_are_exact(lm)
    except (RuntimeError, ValueError, TypeError):  # e.g. a position bias shaped for the batch
        exact = False
    return "by row" if exact else "equal prompt length"
