"""Loading a checkpoint for scoring: safetensors only, no remote code, its device and dtype,
and how many tokens one batch may hold.

Both engines score the same ``LoadedModel``: eval mode, on its device, pad token = EOS (as
the official script), and the checkpoint's own ``generation_config.json`` replaced by
neutral defaults so that a submission cannot steer its own decoding.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig
from transformers.utils import logging as hf_logging

from scorer.errors import ModelError
from scorer.procfs import total_memory_bytes

CPU_BATCH_TOKENS = 16384  # larger CPU batches were measured to run slower (cache misses)
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass(frozen=True)
class LoadedModel:
    """A model ready for scoring: eval mode, on its device, pad token = EOS."""

    model: torch.nn.Module
    tokenizer: object
    device: torch.device
    max_positions: int


def resolve_device(device: str) -> torch.device:
    """``auto`` is the GPU when there is one (scoring is far faster there), else the CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def resolve_dtype(dtype: str, device: torch.device) -> torch.dtype:
    """``auto`` is bf16 on GPU, as the official runs loaded the model, and fp32 on CPU,
    where bf16 is slow; a name the scorer does not know is the user's error."""
    if dtype == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    try:
        return DTYPES[dtype]
    except KeyError:
        raise ModelError(
            f"--dtype {dtype!r}: expected auto, float32, bfloat16 or float16"
        ) from None


def load_tokenizer(model_dir: str | Path):
    """The checkpoint's tokenizer alone (pad token = EOS), and its model's context from
    config.json, so that the inputs can be checked against both before the model loads."""
    path = Path(model_dir)
    if not (path / "config.json").is_file():
        raise ModelError(f"{path}: not a model directory (no config.json)")
    hf_logging.disable_progress_bar()  # the scorer draws its own progress bars
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=False)
    except Exception as err:  # any unloadable tokenizer is the user's input error
        raise ModelError(
            f"{path}: cannot load the tokenizer: {' '.join(str(err).split())}"
        ) from err
    if tokenizer.eos_token_id is None:
        raise ModelError(f"{path}: the tokenizer has no EOS token (it is also the pad token)")
    tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def config_json(model_dir: str | Path) -> dict:
    """The checkpoint's config.json as a dict (read without transformers)."""
    try:
        config = json.loads((Path(model_dir) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ModelError(f"{model_dir}/config.json: cannot read it: {err}") from err
    if not isinstance(config, dict):
        raise ModelError(f"{model_dir}/config.json: not a JSON object")
    return config


def stored_dtype(config: dict, where: str | Path) -> str:
    """The dtype the checkpoint was saved in (config.json's ``dtype`` or ``torch_dtype``),
    what ``torch_dtype="auto"`` loads; float32 when it says none, as transformers does."""
    name = config.get("dtype") or config.get("torch_dtype") or "float32"
    if name not in DTYPES:
        raise ModelError(f"{where}/config.json: field 'dtype' is {name!r}, not one of "
                         f"{', '.join(DTYPES)}")  # fmt: skip
    return name


def context_of(config: dict) -> int:
    """The model's context: ``max_position_embeddings`` (2048 when the config has none)."""
    return int(config.get("max_position_embeddings") or 2048)


def rotary(config: dict) -> bool:
    """Whether positions are rotary (computed for any position, so a text longer than the
    context still runs, as in the official loop) rather than a table that ends there."""
    return any(key in config for key in ("rope_theta", "rope_parameters", "rope_scaling"))


def load_model(
    model_dir: str | Path, device: str = "auto", dtype: str = "auto", tokenizer=None
) -> LoadedModel:
    """Load a Hugging Face checkpoint from safetensors only, never running remote code:
    the judge loads strangers' checkpoints, so nothing in them may execute. ``tokenizer``:
    the one :func:`load_tokenizer` already gave, not loaded twice."""
    path = Path(model_dir)
    tokenizer = tokenizer if tokenizer is not None else load_tokenizer(path)
    target = resolve_device(device)
    try:
        model = AutoModelForCausalLM.from_pretrained(
            path,
            dtype=resolve_dtype(dtype, target),
            use_safetensors=True,
            trust_remote_code=False,
        )
    except Exception as err:  # any unloadable checkpoint is the user's input error
        raise ModelError(f"{path}: cannot load the model: {' '.join(str(err).split())}") from err
    # transformers 5 fills unset generation fields from the checkpoint's own
    # generation_config.json (repetition_penalty, bad_words_ids ...): a submission must not
    # steer its own decoding, so that file is replaced by neutral defaults.
    model.generation_config = GenerationConfig()
    model.to(target).eval()
    return LoadedModel(model, tokenizer, target, context_of(model.config.to_dict()))


def _device_memory_bytes(device: torch.device) -> int:
    """The device's total memory (not the free memory, which changes from run to run)."""
    if device.type == "cuda":
        return int(torch.cuda.get_device_properties(device).total_memory)
    return total_memory_bytes() or 8 << 30


def auto_batch_tokens(lm: LoadedModel) -> int:
    """A token budget per batch from the device's memory and the model's size, so that
    ``--batch-tokens`` need not be tuned by hand.

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
