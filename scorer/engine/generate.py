"""One batched engine for everything the score needs from a model.

Greedy generation (left padding, stop at EOS), per-text mean NLL (labels = inputs) and
next-token choice among candidate ids. Inputs are sorted by length and grouped under a
token budget, so a batch holds similar lengths and memory stays bounded; results come
back in the caller's order. Prompts are tokenized with the tokenizer's defaults and
decoding skips special tokens and applies transformers 4's clean-up, as the official
script did.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.nn.functional import cross_entropy
from transformers import AutoModelForCausalLM, AutoTokenizer, DynamicCache, GenerationConfig
from transformers.utils import logging as hf_logging

from scorer.errors import ModelError
from scorer.official.metrics import clean_up_tokenization
from scorer.procfs import total_memory_bytes

Progress = Callable[[int], None]  # called with the number of inputs just finished


@dataclass
class LoadedModel:
    """A model ready for scoring: eval mode, on its device, pad token = EOS."""

    model: torch.nn.Module
    tokenizer: object
    device: torch.device
    max_positions: int


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def resolve_dtype(dtype: str, device: torch.device) -> torch.dtype:
    """bf16 on GPU (as the official runs), fp32 on CPU unless asked otherwise."""
    if dtype == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    try:
        return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[
            dtype
        ]
    except KeyError:
        raise ModelError(
            f"--dtype {dtype!r}: expected auto, float32, bfloat16 or float16"
        ) from None


def load_model(model_dir: str | Path, device: str = "auto", dtype: str = "auto") -> LoadedModel:
    """Load a Hugging Face checkpoint from safetensors only, never running remote code."""
    path = Path(model_dir)
    if not (path / "config.json").is_file():
        raise ModelError(f"{path}: not a model directory (no config.json)")
    target = resolve_device(device)
    hf_logging.disable_progress_bar()  # the scorer draws its own progress bars
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=False)
        model = AutoModelForCausalLM.from_pretrained(
            path,
            dtype=resolve_dtype(dtype, target),
            use_safetensors=True,
            trust_remote_code=False,
        )
    except Exception as err:  # any unloadable checkpoint is the user's input error
        raise ModelError(f"{path}: cannot load the model: {' '.join(str(err).split())}") from err
    if tokenizer.eos_token_id is None:
        raise ModelError(f"{path}: the tokenizer has no EOS token (it is also the pad token)")
    tokenizer.pad_token = tokenizer.eos_token
    # transformers 5 fills unset generation fields from the checkpoint's own
    # generation_config.json (repetition_penalty, bad_words_ids ...): a submission must not
    # steer its own decoding, so that file is replaced by neutral defaults.
    model.generation_config = GenerationConfig()
    model.to(target).eval()
    limit = getattr(model.config, "max_position_embeddings", None) or 2048
    return LoadedModel(model, tokenizer, target, int(limit))


CPU_BATCH_TOKENS = 16384


def _device_memory_bytes(device: torch.device) -> int:
    """The device's total memory (not the free memory, which changes from run to run)."""
    if device.type == "cuda":
        return int(torch.cuda.get_device_properties(device).total_memory)
    return total_memory_bytes() or 8 << 30


def auto_batch_tokens(lm: LoadedModel) -> int:
    """A token budget per batch from the device's memory and the model's size.

    Per token a batch needs its key/value cache, a layer's widest activations and, in the
    log-likelihood phases, a row of logits; batches get half of the GPU memory the weights
    leave (a 7B model in bf16 on an 80 GB GPU: some 40 thousand tokens). On CPU, where
    larger batches were measured to run slower (cache misses), at most
    ``CPU_BATCH_TOKENS``. It depends on the device's total memory, never on what happens
    to be free, so a resumed run plans the same batches. Never changes a result beyond
    float rounding.
    """
    config = lm.model.config
    params = list(lm.model.parameters())
    elem = params[0].element_size()
    weights = sum(p.numel() * p.element_size() for p in params)
    hidden = config.hidden_size
    heads = config.num_attention_heads
    kv_dim = (getattr(config, "num_key_value_heads", None) or heads) * (
        getattr(config, "head_dim", None) or hidden // heads
    )
    per_token = (
        2 * config.num_hidden_layers * kv_dim * elem
        + (3 * hidden + 2 * getattr(config, "intermediate_size", 4 * hidden)) * elem
        + config.vocab_size * 4
    )
    spare = max(_device_memory_bytes(lm.device) - weights, 0)
    if lm.device.type == "cuda":
        return int(min(max(spare // 2 // per_token, 1024), 1 << 20))
    return int(min(max(min(spare // 4, 4 << 30) // per_token, 1024), CPU_BATCH_TOKENS))


def length_batches(lengths: Sequence[int], cost: Callable[[int, int], int], budget: int):
    """Indices sorted by length (longest first), grouped while ``cost(n, longest) ≤ budget``."""
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


def _padded(
    rows: Sequence[Sequence[int]],
    pad_id: int,
    device: torch.device,
    left: bool,
    ends: Sequence[int] | None = None,
):
    """Ids and attention mask of ``rows`` padded to one width, on the left or the right
    (or, with ``ends``, each row ending at its own column: padding on both sides)."""
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


def _positions(mask: torch.Tensor) -> torch.Tensor:
    """Position ids that start at 0 on each row's first real token (left padding)."""
    return (mask.cumsum(-1) - 1).clamp(min=0)


def _greedy_config(lm: LoadedModel, max_new_tokens: int) -> GenerationConfig:
    """Greedy decoding whatever the checkpoint's own generation_config.json says."""
    eos = lm.model.config.eos_token_id
    if eos is None:
        eos = lm.tokenizer.eos_token_id
    return GenerationConfig(
        max_new_tokens=max_new_tokens,
        do_sample=False,
        num_beams=1,
        eos_token_id=eos,
        pad_token_id=lm.tokenizer.eos_token_id,
    )


def encode(lm: LoadedModel, texts: Sequence[str]) -> list[list[int]]:
    """Token ids of each text with the tokenizer's defaults (as the official script); one
    batched call, which gives each text's own ids."""
    return lm.tokenizer(list(texts))["input_ids"] if texts else []


def _decode(lm: LoadedModel, tokens: Sequence[int]) -> str:
    text = lm.tokenizer.decode(tokens, skip_special_tokens=True, clean_up_tokenization_spaces=False)
    return clean_up_tokenization(text)


def _eos_ids(lm: LoadedModel) -> set[int]:
    eos = _greedy_config(lm, 1).eos_token_id
    return set(eos) if isinstance(eos, list) else {int(eos)}


def greedy_batch(lm: LoadedModel, rows: Sequence[Sequence[int]], max_new_tokens: int) -> list[str]:
    """Greedy continuations of one batch of token rows, decoded."""
    return generate_and_score(lm, rows, [[] for _ in rows], max_new_tokens)[0]


@torch.inference_mode()
def generate_and_score(
    lm: LoadedModel,
    prompts: Sequence[Sequence[int]],
    answers: Sequence[Sequence[int]],
    max_new_tokens: int,
    prefill_tokens: int | None = None,
) -> tuple[list[str], list[float | None]]:
    """Greedy continuations of ``prompts`` and, from the same forward pass, the mean NLL of
    each expected ``answer`` given its prompt (None for an empty answer).

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
    batch costs as much as its live rows, and no per-step logits processors run. Each
    row's tokens are those of ``model.generate`` on that row alone (the tests check it).
    """
    if any(not p for p in prompts):
        raise ValueError("every prompt needs at least one token")
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
        return ["" for _ in prompts], nlls
    stacked = _stacked_cache(lm, caches)
    tokens = _greedy_tokens(lm, stacked, torch.cat(masks), torch.cat(positions),
                            torch.cat(firsts), max_new_tokens)  # fmt: skip
    texts = [""] * len(prompts)
    for i, row in zip((i for chunk in chunks for i in chunk), tokens):
        texts[i] = _decode(lm, row)
    return texts, nlls


def _prefill(lm: LoadedModel, prompts, answers, width: int):
    """One pass over ``prompts`` (left-padded to end at column ``width``) followed by their
    ``answers``: the cache cut back to the prompts, its mask, each row's last position,
    its next-token logits, and each answer's mean NLL."""
    answer_width = max(len(a) for a in answers)
    ids, mask = _padded(
        [[*p, *a] for p, a in zip(prompts, answers)],
        lm.tokenizer.pad_token_id,
        lm.device,
        left=True,
        ends=[width + len(a) for a in answers],
    )
    positions = _positions(mask)
    read = torch.zeros_like(mask, dtype=torch.bool)  # the prompt's last token + the answer
    spans = [max(len(a), 1) for a in answers]
    for row, span in enumerate(spans):
        read[row, width - 1 : width - 1 + span] = True
    cache = DynamicCache(config=lm.model.config)
    logits = lm.model(
        input_ids=ids,
        attention_mask=mask,
        position_ids=positions,
        past_key_values=cache,
        use_cache=True,
        logits_to_keep=read,
    ).logits
    per_row = logits.reshape(-1, logits.shape[-1]).split(spans)  # row by row
    nlls = [
        float(cross_entropy(chunk[: len(a)].float(), torch.tensor(a, device=lm.device)))
        if a
        else None
        for chunk, a in zip(per_row, answers)
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


def _greedy_tokens(lm, cache, mask, positions, logits, max_new_tokens: int) -> list[list[int]]:
    """Greedy decoding on from a filled cache: ``logits`` are each row's next-token logits
    after its prompt, ``positions`` each row's last position; a row stops at EOS."""
    eos = _eos_ids(lm)
    live = list(range(len(mask)))  # caller's row index of each batch row
    produced: list[list[int]] = [[] for _ in live]
    next_tokens = None
    for _ in range(max_new_tokens):
        if next_tokens is not None:
            logits = lm.model(
                input_ids=next_tokens[:, None],
                attention_mask=mask,
                position_ids=positions,
                past_key_values=cache,
                use_cache=True,
                logits_to_keep=1,
            ).logits[:, -1, :]
        next_tokens = logits.float().argmax(-1)
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
    return produced


@torch.inference_mode()
def reference_generate(lm: LoadedModel, prompt: str, max_new_tokens: int) -> str:
    """The official per-item way: ``model.generate`` on one unpadded prompt."""
    enc = lm.tokenizer(prompt, return_tensors="pt").to(lm.device)
    out = lm.model.generate(**enc, generation_config=_greedy_config(lm, max_new_tokens))
    return _decode(lm, out[0, enc["input_ids"].shape[1] :].tolist())


def generation_cost(max_new_tokens: int) -> Callable[[int, int], int]:
    """Tokens a generation batch of ``n`` prompts of width ``longest`` may hold."""
    return lambda n, longest: n * (longest + max_new_tokens)


def generate(
    lm: LoadedModel,
    prompts: Sequence[str],
    max_new_tokens: int = 256,
    batch_tokens: int = 16384,
    progress: Progress | None = None,
) -> list[str]:
    """Greedy continuations of ``prompts``, decoded as the official script decoded them."""
    encoded = encode(lm, prompts)
    outputs: list[str] = [""] * len(prompts)
    cost = generation_cost(max_new_tokens)
    for batch in length_batches([len(e) for e in encoded], cost, batch_tokens):
        texts = greedy_batch(lm, [encoded[i] for i in batch], max_new_tokens)
        for i, text in zip(batch, texts):
            outputs[i] = text
        if progress:
            progress(len(batch))
    return outputs


@dataclass(frozen=True)
class TokenStats:
    """What the membership attacks need from one text, token by token (first token excluded).

    ``logprobs[t]`` is log p(x_{t+1} | x_≤t); ``mu[t]`` and ``sigma[t]`` are the mean and
    standard deviation of log p(z | x_≤t) over the vocabulary z ~ p (Min-K%++).
    """

    mean_nll: float
    logprobs: list[float]
    mu: list[float]
    sigma: list[float]


STATS_CHUNK = 512  # positions whose vocabulary statistics are computed at once


@torch.inference_mode()
def token_stats_batch(lm: LoadedModel, rows: Sequence[Sequence[int]]) -> list[TokenStats]:
    """One right-padded forward pass over a batch of token rows (labels = inputs).

    Logits are computed only at the positions that predict a real token (no padding), as
    one flat list of positions; the vocabulary-wide statistics are computed over it
    ``STATS_CHUNK`` positions at a time, so beyond the logits only a few ``STATS_CHUNK ×
    vocab`` temporaries are ever alive.
    """
    ids, mask = _padded(rows, lm.tokenizer.pad_token_id, lm.device, left=False)
    predicting = torch.zeros_like(mask, dtype=torch.bool)
    predicting[:, :-1] = mask[:, 1:].bool()  # position t predicts token t + 1
    logits = lm.model(input_ids=ids, attention_mask=mask, logits_to_keep=predicting).logits
    logits = logits.reshape(-1, logits.shape[-1])  # (predicted tokens, vocab), row by row
    targets = ids[:, 1:][mask[:, 1:].bool()]
    picked, mu, sigma = [], [], []
    for start in range(0, len(targets), STATS_CHUNK):
        stop = start + STATS_CHUNK
        log_probs = torch.log_softmax(logits[start:stop].float(), dim=-1)
        picked.append(log_probs.gather(-1, targets[start:stop, None]).squeeze(-1))
        probs = log_probs.exp()
        mean = torch.linalg.vecdot(probs, log_probs)
        second = torch.linalg.vecdot(probs * log_probs, log_probs)
        mu.append(mean)
        sigma.append((second - mean.square()).clamp(min=0).sqrt())
    lengths = mask[:, 1:].sum(-1).tolist()
    flat = [torch.cat(parts) if parts else logits.new_zeros(0) for parts in (picked, mu, sigma)]
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


def answer_rows(lm: LoadedModel, prompt: str, answer: str) -> tuple[list[int], int]:
    """``tokenizer(input + output)`` cut to the context, and how many prompt tokens to mask
    (``len(tokenizer(input))``), as the official answer NLL."""
    ids = lm.tokenizer(prompt + answer)["input_ids"][: lm.max_positions]
    return ids, min(len(lm.tokenizer(prompt)["input_ids"]), len(ids))


@torch.inference_mode()
def answer_nll_batch(
    lm: LoadedModel, rows: Sequence[Sequence[int]], prompt_lengths: Sequence[int]
) -> list[float | None]:
    """Mean NLL of each row's answer tokens given its prompt (None: no answer token)."""
    ids, mask = _padded(rows, lm.tokenizer.pad_token_id, lm.device, left=False)
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
def reference_answer_nll(lm: LoadedModel, prompt: str, answer: str) -> float | None:
    """The official per-item way: one unpadded forward pass, prompt tokens masked (-100)."""
    ids, start = answer_rows(lm, prompt, answer)
    if len(ids) - start < 1 or start < 1:
        return None
    tensor = torch.tensor([ids], device=lm.device)
    labels = tensor.clone()
    labels[:, :start] = -100
    return float(lm.model(input_ids=tensor, labels=labels).loss)


@torch.inference_mode()
def reference_mean_nll(lm: LoadedModel, text: str) -> float:
    """The official per-document way: one unpadded forward pass with ``labels = inputs``."""
    ids = lm.tokenizer(text, return_tensors="pt")["input_ids"][:, : lm.max_positions]
    ids = ids.to(lm.device)
    return float(lm.model(input_ids=ids, labels=ids).loss)


def truncated(lm: LoadedModel, rows: list[list[int]]) -> list[list[int]]:
    """Rows cut to the model's context (the official script had no cut, but its OLMo
    context held every LUME document)."""
    return [r[: lm.max_positions] for r in rows]


@torch.inference_mode()
def choose_next_token(
    lm: LoadedModel,
    prompts: Sequence[str],
    candidate_ids: Sequence[int],
    batch_tokens: int = 16384,
    progress: Progress | None = None,
) -> list[int]:
    """Index of the candidate with the highest next-token logit after each prompt."""
    encoded = [lm.tokenizer(p)["input_ids"] for p in prompts]
    choices: list[int] = [0] * len(prompts)
    candidates = torch.tensor(list(candidate_ids), device=lm.device)
    pad = lm.tokenizer.pad_token_id
    for batch in length_batches([len(e) for e in encoded], lambda n, w: n * w, batch_tokens):
        ids, mask = _padded([encoded[i] for i in batch], pad, lm.device, left=True)
        logits = lm.model(input_ids=ids, attention_mask=mask, position_ids=_positions(mask)).logits
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
    """``choose_next_token`` for prompts ``prefix + suffix`` that share one prefix.

    The prefix (an MMLU subject's k-shot examples, most of each prompt) is run once and
    its key/value cache reused for every suffix of the batch, instead of being recomputed
    per question. Suffixes are right-padded: causal attention keeps padding out of the
    real tokens, and each row is read at its own last token.
    """
    cache = DynamicCache(config=lm.model.config)
    if prefix:
        prefix_ids = torch.tensor([list(prefix)], dtype=torch.long, device=lm.device)
        lm.model(input_ids=prefix_ids, past_key_values=cache, use_cache=True, logits_to_keep=1)
        cache.batch_repeat_interleave(len(suffixes))
    ids, mask = _padded(suffixes, lm.tokenizer.pad_token_id, lm.device, left=False)
    full_mask = torch.cat([mask.new_ones((len(suffixes), len(prefix))), mask], dim=1)
    positions = (len(prefix) + torch.arange(ids.shape[1], device=lm.device)).expand_as(ids)
    last = mask.sum(-1) - 1
    kept = torch.unique(last)  # logits only where some row ends, not for every position
    logits = lm.model(
        input_ids=ids,
        attention_mask=full_mask,
        position_ids=positions,
        past_key_values=cache,
        use_cache=True,
        logits_to_keep=kept,
    ).logits
    column = torch.searchsorted(kept, last)
    rows = logits[torch.arange(len(suffixes), device=lm.device), column].float()
    candidates = torch.tensor(list(candidate_ids), device=lm.device)
    return rows[:, candidates].argmax(-1).tolist()


@torch.inference_mode()
def reference_choice(lm: LoadedModel, prompt: str, candidate_ids: Sequence[int]) -> int:
    """The official per-question way: one unpadded forward pass over the whole prompt."""
    ids = lm.tokenizer(prompt, return_tensors="pt")["input_ids"].to(lm.device)
    logits = lm.model(input_ids=ids).logits[0, -1].float()
    return int(logits[list(candidate_ids)].argmax())
