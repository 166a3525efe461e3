"""Batched greedy generation: one prefill pass (which also gives each answer's NLL), then a
greedy loop over the key/value cache that drops finished rows.

Each row's tokens are those of ``model.generate`` on that row alone (the agreement tests
check it against :mod:`scorer.engine.reference`); decoding skips special tokens and applies
transformers 4's clean-up, as the official script did.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from transformers import DynamicCache

from scorer.engine import row_attention
from scorer.engine.batching import encode, generation_cost, left_positions, length_batches, padded
from scorer.engine.forward_passes import official_mean_nll
from scorer.engine.margins import precision_margins
from scorer.engine.model import LoadedModel
from scorer.official.metrics import clean_up_tokenization

Progress = Callable[[int], None]  # called with the number of inputs just finished
# called at each decoding step with the live rows (the caller's indices) and their logits,
# to measure how far they are from the per-item loop's (scorer.engine.margins)
StepHook = Callable[[list[int], torch.Tensor], None]


def decode(lm: LoadedModel, tokens: Sequence[int]) -> str:
    """New tokens as the official script decoded them: special tokens skipped, and
    transformers 4's clean-up, which transformers 5 no longer applies to BPE tokenizers."""
    text = lm.tokenizer.decode(tokens, skip_special_tokens=True, clean_up_tokenization_spaces=False)
    return clean_up_tokenization(text)


def eos_ids(lm: LoadedModel) -> set[int]:
    """The tokens that end a generation: the model's EOS (one or several), else the
    tokenizer's; never the checkpoint's generation_config.json, which a submission wrote."""
    eos = lm.model.config.eos_token_id
    if eos is None:
        eos = lm.tokenizer.eos_token_id
    return set(eos) if isinstance(eos, list) else {int(eos)}


@torch.inference_mode()
def generate_and_score(
    lm: LoadedModel,
    prompts: Sequence[Sequence[int]],
    answers: Sequence[Sequence[int]],
    max_new_tokens: int,
    prefill_tokens: int | None = None,
    on_step: StepHook | None = None,
    by_row: bool = False,
) -> tuple[list[str], list[float | None], list[float]]:
    """Greedy continuations of ``prompts``, from the same forward pass the mean NLL of
    each expected ``answer`` given its prompt (None for an empty answer), and each row's
    smallest top-2 logit margin along its path (:func:`_greedy_tokens`).

    The official loop ran the prompt twice: once to generate, once more inside
    ``prompt + answer`` for the answer NLL. Here rows are laid out as left-padded prompts
    followed by right-padded answers, so one causal pass gives the answer's
    log-likelihood and the prompt's key/value cache (causal attention keeps the answers out
    of it); the cache is then cut back to the prompts and decoding goes on from there.
    Logits are computed only where they are read: each prompt's last token and its answer.
    That pass runs in chunks of rows with similar answer lengths, at most
    ``prefill_tokens`` padded tokens each (one answer width for the whole batch would pad
    most rows to its longest answer), and the chunks' caches are stacked for decoding.

    Decoding is a hand-written loop over the cache rather than ``model.generate``: a row
    that has produced EOS is dropped from the batch (and from the cache) at once, so a
    batch costs as much as its live rows, and no per-step logits processors run.

    ``by_row``: attention runs per group of rows of one real length, unmasked, as each row
    runs alone (:mod:`scorer.engine.row_attention`); the prompts then run without their
    answers (an answer after a prompt changes that attention's shapes), so every answer's
    NLL is None here and is the caller's to compute.
    """
    if any(not p for p in prompts):
        raise ValueError("every prompt needs at least one token")
    if by_row:
        with row_attention.by_row(lm.model):
            return _generate_by_row(lm, prompts, max_new_tokens, on_step)
    width = max(len(p) for p in prompts)
    chunks = list(
        length_batches(
            [len(a) for a in answers],
            lambda n, longest: n * (width + longest),
            prefill_tokens or (1 << 62),
        )
    )
    nlls: list[float | None] = [None] * len(prompts)
    caches, masks, positions, firsts = [], [], [], []
    for chunk in chunks:
        cache, mask, position, first, chunk_nlls = _prefill(
            lm, [prompts[i] for i in chunk], [answers[i] for i in chunk], width
        )
        caches.append(cache)
        masks.append(mask)
        positions.append(position)
        firsts.append(first)
        for i, nll in zip(chunk, chunk_nlls):
            nlls[i] = nll
    if max_new_tokens < 1:
        return ["" for _ in prompts], nlls, [float("inf")] * len(prompts)
    stacked = _stacked_cache(lm, caches)
    order = [i for chunk in chunks for i in chunk]
    hook = (lambda rows, logits: on_step([order[r] for r in rows], logits)) if on_step else None
    tokens, row_margins = _greedy_tokens(lm, stacked, torch.cat(masks), torch.cat(positions),
                                         torch.cat(firsts), max_new_tokens, hook)  # fmt: skip
    texts = [""] * len(prompts)
    margins = [float("inf")] * len(prompts)
    for i, row, margin in zip(order, tokens, row_margins):
        texts[i] = decode(lm, row)
        margins[i] = margin
    return texts, nlls, margins


def _generate_by_row(lm: LoadedModel, prompts, max_new_tokens: int, on_step):
    """:func:`generate_and_score` with attention by row: one pass over the left-padded
    prompts, then the greedy loop."""
    width = max(len(p) for p in prompts)
    cache, mask, position, first, _ = _prefill(lm, prompts, [[] for _ in prompts], width)
    if max_new_tokens < 1:
        return ["" for _ in prompts], [None] * len(prompts), [float("inf")] * len(prompts)
    tokens, margins = _greedy_tokens(lm, cache, mask, position, first, max_new_tokens, on_step)
    return [decode(lm, row) for row in tokens], [None] * len(prompts), margins


def _prefill(lm: LoadedModel, prompts, answers, width: int):
    """One pass over ``prompts`` (left-padded to end at column ``width``) followed by their
    ``answers``: the cache cut back to the prompts, its mask, each row's last position,
    its next-token logits, and each answer's mean NLL."""
    answer_width = max(len(a) for a in answers)
    ids, mask = padded(
        [[*p, *a] for p, a in zip(prompts, answers)],
        lm.tokenizer.pad_token_id,
        lm.device,
        left=True,
        ends=[width + len(a) for a in answers],
    )
    positions = left_positions(mask)
    read = torch.zeros_like(mask, dtype=torch.bool)  # the prompt's last token + the answer
    spans = [max(len(a), 1) for a in answers]
    for row, span in enumerate(spans):
        read[row, width - 1 : width - 1 + span] = True
    cache = DynamicCache(config=lm.model.config)
    logits = lm.model(
        input_ids=ids,
        attention_mask=mask,
        position_ids=positions,
        cache=cache,
        use_cache=True,
        logits_to_keep=read,
    ).logits
    per_row = logits.reshape(-1, logits.shape[-1]).split(spans)  # row by row
    nlls = [
        official_mean_nll(chunk[: len(a)], torch.tensor(a, device=lm.device), len(p) - 1)
        if a
        else None
        for chunk, p, a in zip(per_row, prompts, answers)
    ]
    if answer_width:
        cache.crop(-answer_width)
    first = torch.stack([chunk[0] for chunk in per_row])
    return cache, mask[:, :width], positions[:, width - 1 : width], first, nlls


def _stacked_cache(lm: LoadedModel, caches: list[DynamicCache]) -> DynamicCache:
    """Caches of the same width stacked along the batch (the constructor's per-layer
    ``(keys, values)`` form, made for gathering caches across processes)."""
    if len(caches) == 1:
        return caches[0]
    layers = zip(*(list(cache) for cache in caches))
    data = [
        (torch.cat([entry[0] for entry in per_layer]), torch.cat([entry[1] for entry in per_layer]))
        for per_layer in layers
    ]
    return DynamicCache(data, config=lm.model.config)


def _greedy_tokens(
    lm, cache, mask, positions, logits, max_new_tokens: int, on_step: StepHook | None = None
) -> tuple[list[list[int]], list[float]]:
    """Greedy decoding on from a filled cache: ``logits`` are each row's next-token logits
    after its prompt, ``positions`` each row's last position; a row stops at EOS.

    Also each row's smallest margin between its two largest logits over the steps it ran,
    in units of the model dtype's precision at the logits' scale: where every margin
    exceeds twice the largest logit difference between this engine and the per-item loop,
    both pick the same token at every step (:mod:`scorer.engine.margins`).
    """
    eos = eos_ids(lm)
    live = list(range(len(mask)))  # caller's row index of each batch row
    produced: list[list[int]] = [[] for _ in live]
    smallest = torch.full((len(live),), float("inf"))
    eps = torch.finfo(next(lm.model.parameters()).dtype).eps
    next_tokens = None
    for _ in range(max_new_tokens):
        if next_tokens is not None:
            logits = lm.model(
                input_ids=next_tokens[:, None],
                attention_mask=mask,
                position_ids=positions,
                cache=cache,
                use_cache=True,
                logits_to_keep=1,
            ).logits[:, -1, :]
        logits = logits.float()
        if on_step is not None:
            on_step(list(live), logits)
        next_tokens = logits.argmax(-1)  # argmax's tie rule, as model.generate
        step_margins = precision_margins(logits, eps).cpu()
        rows = torch.tensor(live)
        smallest[rows] = torch.minimum(smallest[rows], step_margins)
        keep = []
        for batch_row, token in enumerate(next_tokens.tolist()):
            if token in eos:
                continue
            produced[live[batch_row]].append(token)
            keep.append(batch_row)
        if not keep:
            break
        if len(keep) < len(live):
            index = torch.tensor(keep, device=lm.device)
            cache.batch_select_indices(index)
            mask, positions, next_tokens = mask[index], positions[index], next_tokens[index]
            live = [live[i] for i in keep]
        mask = torch.cat([mask, mask.new_ones((len(live), 1))], dim=1)
        positions = positions + 1
    return produced, smallest.tolist()


def generate(
    lm: LoadedModel,
    prompts: Sequence[str],
    max_new_tokens: int = 256,
    batch_tokens: int = 16384,
    progress: Progress | None = None,
) -> list[str]:
    """Greedy continuations of ``prompts``, decoded as the official script decoded them,
    in length batches under ``batch_tokens`` (generation alone, without answer NLLs)."""
    encoded = encode(lm, prompts)
    outputs: list[str] = [""] * len(prompts)
    cost = generation_cost(max_new_tokens)
    for batch in length_batches([len(e) for e in encoded], cost, batch_tokens):
        rows = [encoded[i] for i in batch]
        texts = generate_and_score(lm, rows, [[] for _ in rows], max_new_tokens)[0]
        for i, text in zip(batch, texts):
            outputs[i] = text
        if progress:
            progress(len(batch))
    return outputs
