"""The benchmark's FLOP count, against a hand count on a tiny OLMo."""

from __future__ import annotations

import sys

import pytest
import torch
from transformers import AutoModelForCausalLM, OlmoConfig

from paths import BENCHMARKS

sys.path.insert(0, str(BENCHMARKS))
from roofline import documents_flops, items_flops, mmlu_flops, model_shape  # noqa: E402

HIDDEN, INTERMEDIATE, LAYERS, VOCAB = 8, 16, 2, 32


@pytest.fixture(scope="module")
def shape():
    config = OlmoConfig(
        hidden_size=HIDDEN,
        intermediate_size=INTERMEDIATE,
        num_hidden_layers=LAYERS,
        num_attention_heads=2,
        vocab_size=VOCAB,
    )
    torch.manual_seed(0)
    return model_shape(AutoModelForCausalLM.from_config(config))


def test_the_shape_counts_every_projection_once(shape):
    # per layer q, k, v, o (hidden × hidden) and gate, up, down (hidden × intermediate)
    assert shape.body_params == LAYERS * (4 * HIDDEN * HIDDEN + 3 * HIDDEN * INTERMEDIATE)
    assert shape.head_params == VOCAB * HIDDEN
    assert (shape.layers, shape.attention_width) == (LAYERS, HIDDEN)


def test_flops_by_hand(shape):
    body, head = 2 * shape.body_params, 2 * shape.head_params
    attention = lambda p: 4 * LAYERS * HIDDEN * (p + 1)  # noqa: E731  (p + 1 keys at p)
    # a 3-token document: every position through the body, 2 predictions read
    assert documents_flops(shape, [3]) == 3 * body + sum(map(attention, range(3))) + 2 * head
    # item: prompt of 2 (its last logits read), answer of 1, 2 generated tokens after it
    expected = (
        2 * body + attention(0) + attention(1) + head  # the prompt
        + body + attention(2) + head  # the answer token
        + 2 * body + attention(2) + attention(3) + 2 * head  # decoding
    )  # fmt: skip
    assert items_flops(shape, [2], [1], [2]) == expected
    # MMLU: a 2-token prefix once, then suffixes of 1 and 2 tokens, one read each
    expected = (
        2 * body + attention(0) + attention(1)
        + body + attention(2) + head
        + 2 * body + attention(2) + attention(3) + head
    )  # fmt: skip
    assert mmlu_flops(shape, [(2, [1, 2])]) == expected
