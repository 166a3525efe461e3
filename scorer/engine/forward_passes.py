"""Batched single forward passes: MIA token statistics, answer NLLs, and the next-token
choice among candidates (an MMLU answer), whole prompts or after a shared prefix.

Rows are padded to one tensor; logits are computed only at the positions that are read.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import nullcontext

import torch
from torch.nn.functional import cross_entropy
from transformers import DynamicCache

from scorer.engine import row_attention
from scorer.engine.batching import left_positions, length_batches, padded
from scorer.engine.model import LoadedModel
from scorer.engine.token_stats import TokenStats, vocabulary_stats

Progress = Callable[[int], None]  # called with the number of inputs just finished


@torch.inference_mode()
def token_stats_batch(
    lm: LoadedModel, rows: Sequence[Sequence[int]], by_row: bool = False
) -> list[TokenStats]:
    """The official MIA NLL and the attacks' token statistics of a batch of token rows, from
    one left-padded forward pass (labels = inputs).

    Logits are computed only at the positions that predict a real token (no padding), as
    one flat list of positions, and reduced by :func:`vocabulary_stats` a chunk at a time.
    ``by_row``: attention runs per group of rows of one length, each as it runs alone
    (:mod:`scorer.engine.row_attention`), so in reduced precision every NLL has the bits
    of the per-item loop's.
    """
    ids, mask = padded(rows, lm.tokenizer.pad_token_id, lm.device, left=True)
    predicting = torch.zeros_like(mask, dtype=torch.bool)
    predicting[:, :-1] = (mask[:, :-1] * mask[:, 1:]).bool()  # t predicts t + 1, both real
    inputs = {"input_ids": ids, "attention_mask": mask, "position_ids": left_positions(mask)}
    with row_attention.by_row(lm.model) if by_row else nullcontext():
        logits = lm.model(**inputs, logits_to_keep=predicting).logits
    logits = logits.reshape(-1, logits.shape[-1])  # (predicted tokens, vocab), row by row
    targets = ids[:, 1:][predicting[:, :-1]]
    lengths = predicting.sum(-1).tolist()
    values, means, deviations = (t.tolist() for t in vocabulary_stats(logits, targets))
    out, at = [], 0
    for n, row_logits, row_targets in zip(lengths, logits.split(lengths), targets.split(lengths)):
        out.append(
            TokenStats(
                mean_nll=official_mean_nll(row_logits, row_targets),
                logprobs=values[at : at + n],
                mu=means[at : at + n],
                sigma=deviations[at : at + n],
            )
        )
        at += n
    return out


def official_mean_nll(
    logits: torch.Tensor, targets: torch.Tensor, ignored_before: int = 0
) -> float:
    """``model(input_ids, labels=labels).loss`` of one unpadded row, from the logits of the
    positions that predict ``targets``: transformers' causal loss upcasts the logits and
    takes the mean cross-entropy over every position of the row, those whose label is
    -100 (the first ``ignored_before``: a prompt's; the last: shifted off) counting zero.
    The same call on the same shapes gives the per-item loop's bits; an answer's mean over
    its own positions alone, or summed log-probabilities over their count, round
    differently. (MIA: ``ignored_before`` 0; an answer after a prompt of ``n`` tokens:
    ``n - 1``.)"""
    vocab = logits.shape[-1]
    full = torch.cat(
        [logits.new_zeros((ignored_before, vocab)), logits, logits.new_zeros((1, vocab))]
    )
    labels = torch.cat(
        [targets.new_full((ignored_before,), -100), targets, targets.new_full((1,), -100)]
    )
    return float(cross_entropy(full.float(), labels))


@torch.inference_mode()
def answer_nll_batch(
    lm: LoadedModel,
    rows: Sequence[Sequence[int]],
    prompt_lengths: Sequence[int],
    by_row: bool = False,
) -> list[float | None]:
    """Mean NLL of each row's answer tokens given its prompt (None: no answer token, or no
    prompt token to predict it from), from one left-padded pass; logits only where an
    answer token is predicted. ``by_row``: attention per group of rows of one length
    (:mod:`scorer.engine.row_attention`), which gives the per-item loop's bits."""
    ids, mask = padded(rows, lm.tokenizer.pad_token_id, lm.device, left=True)
    width = ids.shape[1]
    read = torch.zeros_like(mask, dtype=torch.bool)
    answered = []  # rows with an answer: (row, prompt length, row length)
    for row, (tokens, start) in enumerate(zip(rows, prompt_lengths)):
        n = len(tokens)
        if n - start >= 1 and start >= 1:
            # position t predicts token t + 1: the answer's tokens start..n-1 from start-1..n-2
            read[row, width - n + start - 1 : width - 1] = True
            answered.append((row, start, n))
    out: list[float | None] = [None] * len(rows)
    if not answered:
        return out
    inputs = {"input_ids": ids, "attention_mask": mask, "position_ids": left_positions(mask)}
    with row_attention.by_row(lm.model) if by_row else nullcontext():
        logits = lm.model(**inputs, logits_to_keep=read).logits
    logits = logits.reshape(-1, logits.shape[-1])  # the read positions, row by row
    parts = logits.split([n - start for _, start, n in answered])
    for (row, start, n), part in zip(answered, parts):
        out[row] = official_mean_nll(part, ids[row, width - n + start :], start - 1)
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
