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
from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig
from transformers.utils import logging as hf_logging

from scorer.errors import ModelError
from scorer.metrics import clean_up_tokenization

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
    model.to(target).eval()
    limit = getattr(model.config, "max_position_embeddings", None) or 2048
    return LoadedModel(model, tokenizer, target, int(limit))


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


def _padded(rows: Sequence[Sequence[int]], pad_id: int, device: torch.device, left: bool):
    """Ids and attention mask of ``rows`` padded to one width, on the left or the right."""
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
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


@torch.inference_mode()
def generate(
    lm: LoadedModel,
    prompts: Sequence[str],
    max_new_tokens: int = 256,
    batch_tokens: int = 16384,
    progress: Progress | None = None,
) -> list[str]:
    """Greedy continuations of ``prompts``, decoded as the official script decoded them."""
    encoded = [lm.tokenizer(p)["input_ids"] for p in prompts]
    outputs: list[str] = [""] * len(prompts)
    config = _greedy_config(lm, max_new_tokens)
    pad = lm.tokenizer.pad_token_id
    batches = length_batches(
        [len(e) for e in encoded], lambda n, longest: n * (longest + max_new_tokens), batch_tokens
    )
    for batch in batches:
        ids, mask = _padded([encoded[i] for i in batch], pad, lm.device, left=True)
        out = lm.model.generate(input_ids=ids, attention_mask=mask, generation_config=config)
        new_tokens = out[:, ids.shape[1] :].tolist()
        for i, tokens in zip(batch, new_tokens):
            text = lm.tokenizer.decode(
                tokens, skip_special_tokens=True, clean_up_tokenization_spaces=False
            )
            outputs[i] = clean_up_tokenization(text)
        if progress:
            progress(len(batch))
    return outputs


@torch.inference_mode()
def mean_nlls(
    lm: LoadedModel,
    texts: Sequence[str],
    batch_tokens: int = 16384,
    progress: Progress | None = None,
) -> list[float]:
    """Mean token NLL of each text with ``labels = input_ids`` (the HF loss, per text).

    Texts longer than the model's context are cut to it (the official script had no
    cut, but its OLMo context held every LUME document).
    """
    encoded = [lm.tokenizer(t)["input_ids"][: lm.max_positions] for t in texts]
    nlls: list[float] = [0.0] * len(texts)
    pad = lm.tokenizer.pad_token_id
    for batch in length_batches([len(e) for e in encoded], lambda n, w: n * w, batch_tokens):
        ids, mask = _padded([encoded[i] for i in batch], pad, lm.device, left=False)
        logits = lm.model(input_ids=ids, attention_mask=mask).logits[:, :-1].float()
        targets = ids[:, 1:]
        token_nll = torch.nn.functional.cross_entropy(
            logits.transpose(1, 2), targets, reduction="none"
        )
        valid = mask[:, 1:].to(token_nll.dtype)
        per_text = (token_nll * valid).sum(-1) / valid.sum(-1).clamp(min=1)
        for i, value in zip(batch, per_text.tolist()):
            nlls[i] = value
        if progress:
            progress(len(batch))
    return nlls


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
