"""How fast scoring could possibly be on this machine: the FLOPs the official numbers
need, against the fastest matrix products this machine runs for the model's shapes.

A speed-up over the per-item loop is bounded by (per-item time) / (needed FLOPs / peak
rate): no engine that computes the same numbers can beat it. The count is a lower bound
(only the linear layers, the attention products and the logits at the positions that are
read; no norms, softmax or rotary) and the peak is the best rate measured, so the bound
is generous.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class ModelShape:
    """What a forward pass costs per token: body linear weights, logits width, attention."""

    body_params: int  # every nn.Linear weight except the output projection
    head_params: int  # the output projection (vocab × hidden)
    layers: int
    attention_width: int  # query heads × head dim

    def token_flops(self, position: int, logits: bool) -> int:
        """FLOPs of one token at ``position`` (0-based); ``logits``: its logits are read."""
        attention = 4 * self.layers * self.attention_width * (position + 1)
        return 2 * self.body_params + attention + (2 * self.head_params if logits else 0)

    def span_flops(self, start: int, stop: int, logits: int) -> int:
        """Tokens at positions ``start..stop-1``, ``logits`` of them with their logits read
        (which ones does not change the count)."""
        return sum(self.token_flops(p, p >= stop - logits) for p in range(start, stop))


def model_shape(model: torch.nn.Module) -> ModelShape:
    head = model.get_output_embeddings()
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear) and m is not head]
    config = model.config
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    return ModelShape(
        body_params=sum(m.weight.numel() for m in linears),
        head_params=head.weight.numel(),
        layers=config.num_hidden_layers,
        attention_width=config.num_attention_heads * head_dim,
    )


def items_flops(
    shape: ModelShape,
    prompts: Sequence[int],
    answers: Sequence[int],
    generated: Sequence[int],
) -> int:
    """Per item: the prompt once (its last logits read), the expected answer after it
    (logits read: the answer NLL), and one decoding step per generated token."""
    total = 0
    for p, a, g in zip(prompts, answers, generated):
        total += shape.span_flops(0, p, 1) + shape.span_flops(p, p + a, a)
        total += shape.span_flops(p, p + g, g)
    return total


def documents_flops(shape: ModelShape, lengths: Sequence[int]) -> int:
    """Every token of every MIA document, logits read at each (the NLL of the next one)."""
    return sum(shape.span_flops(0, n, n - 1) for n in lengths)


def mmlu_flops(shape: ModelShape, groups: Sequence[tuple[int, Sequence[int]]]) -> int:
    """Per (prefix length, suffix lengths) group: the shared prefix once, each suffix after
    it with the logits of its last token read."""
    total = 0
    for prefix, suffixes in groups:
        total += shape.span_flops(0, prefix, 0)
        total += sum(shape.span_flops(prefix, prefix + s, 1) for s in suffixes)
    return total


def peak_flops_per_second(model: torch.nn.Module, rows: int = 4096, repeats: int = 5) -> float:
    """The best rate of the model's own weight matrices applied to ``rows`` tokens."""
    best = 0.0
    device = next(model.parameters()).device
    with torch.inference_mode():
        for module in model.modules():
            if not isinstance(module, torch.nn.Linear):
                continue
            weight = module.weight
            x = torch.randn(rows, weight.shape[1], dtype=weight.dtype, device=device)
            torch.nn.functional.linear(x, weight)  # warm-up
            for _ in range(repeats):
                if device.type == "cuda":
                    torch.cuda.synchronize()
                start = time.perf_counter()
                torch.nn.functional.linear(x, weight)
                if device.type == "cuda":
                    torch.cuda.synchronize()
                best = max(best, 2 * rows * weight.numel() / (time.perf_counter() - start))
    return best
