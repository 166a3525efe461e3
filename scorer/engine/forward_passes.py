"""Batched single forward passes: MIA token statistics, answer NLLs, and the next-token
choice among candidates (an MMLU answer), whole prompts or after a shared prefix.

Rows are padded to one tensor; logits are computed only at the positions that are read.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch.nn.functional import cross_entropy
from transformers import DynamicCache

from scorer.engine.batching import left_positions, length_batches, padded
from scorer.engine.model import LoadedModel
from scorer.engine.token_stats import TokenStats, vocabulary_stats

Progress = Callable[[int], None]  # called with the number of inputs just finished


@torch.inference_mode()
def token_stats_batch(lm: LoadedModel, rows: Sequence[Sequence[int]]) -> list[TokenStats]:
    """The official MIA NLL and the attacks' token statistics of a batch of token rows, from
    one right-padded forward pass (labels = inputs).

    Logits are computed only at the positions that predict a real token (no padding), as
    one flat list of positions, and reduced by :func:`vocabulary_stats` a chunk at a time.
    """
    ids, mask = padded(rows, lm.tokenizer.pad_token_id, lm.device, left=False)
    predicting = torch.zeros_like(mask, dtype=torch.bool)
    predicting[:, :-1] = mask[:, 1:].bool()  # position t predicts token t + 1
    logits = lm.model(input_ids=ids, attention_mask=mask, logits_to_keep=predicting).logits
    logits = logits.reshape(-1, logits.shape[-1])  # (predicted tokens, vocab), row by row
    targets = ids[:, 1:][mask[:, 1:].bool()]
    flat = vocabulary_stats(logits, targets)
    lengths = mask[:, 1:].sum(-1).tolist()
    values, means, deviations = (t.tolist() for t in flat)
    out, at = [], 0
    for n, row in zip(lengths, flat[0].split(lengths)):
        out.append(
            TokenStats(
                mean_nll=float(-row.sum() / max(n, 1)),  # in fp32, as the official loss
                logprobs=values[at : at + n],
                mu=means[at : at + n],
                sigma=deviations[at : at + n],
            )
        )
        at += n
    return out


@torch.inference_mode()
def answer_nll_batch(
    lm: LoadedModel, rows: Sequence[Sequence[int]], prompt_lengths: Sequence[int]
) -> list[float | None]:
    """Mean NLL of each row's answer tokens given its prompt (None: no answer token), for
    rows whose prompt tokens changed when the answer was appended (a word glued across the
    join), which cannot share the generation's pass."""
    ids, mask = padded(rows, lm.tokenizer.pad_token_id, lm.device, left=False)
    logits = lm.model(input_ids=ids, attention_mask=mask).logits[:, :-1]
    out: list[float | None] = []
    for row, (n, start) in enumerate(zip((len(r) for r in rows), prompt_lengths)):
        if n - start < 1 or start < 1:
            out.append(None)
            continue
        # position t predicts token t + 1: answer tokens start..n-1 are predicted at start-1..n-2
        chunk = logits[row, start - 1 : n - 1].float()
        out.append(float(cross_entropy(chunk, ids[row, start:n])))
    return out


@torch.inference_mode()
def choose_next_token(
    lm: LoadedModel,
    prompts: Sequence[str],
    candidate_ids: Sequence[int],
    batch_tokens: int = 16384,
    progress: Progress | None = None,
) -> list[int]:
    """Index of the candidate with the highest next-token logit after each whole prompt,
    in left-padded length batches (what prefix reuse is measured against)."""
    encoded = [lm.tokenizer(p)["input_ids"] for p in prompts]
    choices: list[int] = [0] * len(prompts)
    candidates = torch.tensor(list(candidate_ids), device=lm.device)
    pad = lm.tokenizer.pad_token_id
    for batch in length_batches([len(e) for e in encoded], lambda n, w: n * w, batch_tokens):
        ids, mask = padded([encoded[i] for i in batch], pad, lm.device, left=True)
        positions = left_positions(mask)
        logits = lm.model(input_ids=ids, attention_mask=mask, position_ids=positions).logits
        picked = logits[:, -1, :].float()[:, candidates].argmax(-1).tolist()
        for i, choice in zip(batch, picked):
            choices[i] = choice
        if progress:
            progress(len(batch))
    return choices


@torch.inference_mode()
def choose_after_prefix(
    lm: LoadedModel,
    prefix: Sequence[int],
    suffixes: Sequence[Sequence[int]],
    candidate_ids: Sequence[int],
) -> list[int]:
    """:func:`choose_next_token` for prompts ``prefix + suffix`` that share one prefix.

    The prefix (an MMLU subject's k-shot examples, most of each prompt) is run once and
    its key/value cache reused for every suffix of the batch, instead of being recomputed
    per question. Suffixes are right-padded: causal attention keeps padding out of the
    real tokens, and each row is read at its own last token. An empty prefix runs the
    suffixes as whole prompts.
    """
    cache = DynamicCache(config=lm.model.config)
    if prefix:
        prefix_ids = torch.tensor([list(prefix)], dtype=torch.long, device=lm.device)
        lm.model(input_ids=prefix_ids, cache=cache, use_cache=True, logits_to_keep=1)
        cache.batch_repeat_interleave(len(suffixes))
    ids, mask = padded(suffixes, lm.tokenizer.pad_token_id, lm.device, left=False)
    full_mask = torch.cat([mask.new_ones((len(suffixes), len(prefix))), mask], dim=1)
    positions = (len(prefix) + torch.arange(ids.shape[1], device=lm.device)).expand_as(ids)
    last = mask.sum(-1) - 1
    kept = torch.unique(last)  # logits only where some row ends, not for every position
    logits = lm.model(
        input_ids=ids,
        attention_mask=full_mask,
        position_ids=positions,
        cache=cache,
        use_cache=True,
        logits_to_keep=kept,
    ).logits
    column = torch.searchsorted(kept, last)
    rows = logits[torch.arange(len(suffixes), device=lm.device), column].float()
    candidates = torch.tensor(list(candidate_ids), device=lm.device)
    return rows[:, candidates].argmax(-1).tolist()
