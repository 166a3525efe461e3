"""Random-weight OLMo targets of a chosen shape for the benchmarks (timing and memory only).

They reuse a mini track's tokenizer, so every data path of the kit runs unchanged; their
outputs are meaningless, their cost is that of a real model of the same shape.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path


def random_target(
    track: Path,
    out: Path,
    hidden: int,
    layers: int,
    heads: int,
    intermediate: int | None = None,
    vocab: int | None = None,
) -> int:
    """A random-weight OLMo of the given shape with the track's tokenizer; its parameters."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    build = json.loads((track / "build.json").read_text())
    source = track / build["model_dir"]
    config = AutoConfig.from_pretrained(source)
    config.hidden_size, config.num_hidden_layers = hidden, layers
    config.num_attention_heads = config.num_key_value_heads = heads
    config.intermediate_size = intermediate or 4 * hidden
    config.vocab_size = max(config.vocab_size, vocab or 0)  # rows past the tokenizer: unused
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config)
    model.save_pretrained(out)
    for name in os.listdir(source):
        if name.startswith(("tokenizer", "special_tokens")) or name in ("vocab.json", "merges.txt"):
            shutil.copy2(source / name, out / name)
    return sum(p.numel() for p in model.parameters())


def parse_shape(text: str) -> dict[str, int]:
    """``"2048x16x16x8192x50304"`` (hidden x layers [x heads [x intermediate [x vocab]]])."""
    values = [int(v) for v in text.lower().split("x")]
    names = ("hidden", "layers", "heads", "intermediate", "vocab")
    if not 2 <= len(values) <= len(names):
        raise SystemExit(f"--random-shape {text!r}: expected HIDDENxLAYERS[xHEADS[xINTER[xVOCAB]]]")
    shape = dict(zip(names, values))
    shape.setdefault("heads", max(1, shape["hidden"] // 128))
    return shape
