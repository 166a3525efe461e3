"""Attention by row: a left-padded bf16 batch gives each row the logits it has alone, bit
for bit, and the engine picks that layout only where its self-check holds."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path

import pytest
import torch

from scorer.data.lume import load_lume
from scorer.data.mia import load_mia
from scorer.engine import row_attention
from scorer.engine.batched import BatchedEngine
from scorer.engine.batching import encode
from scorer.engine.generation import generate_and_score
from scorer.engine.model import LoadedModel, load_model
from scorer.engine.reference import ReferenceEngine, greedy_config
from scorer.engine.row_attention import (
    ROW_ATTENTION,
    attention_implementation,
    generation_layout,
    length_groups,
    plain_causal,
    rows_are_exact,
)

from scoring import computed, track_paths


@pytest.fixture(scope="module")
def bf16(tiny_track: Path) -> LoadedModel:
    return load_model(track_paths(tiny_track)["model_dir"], "cpu", "bfloat16")


@pytest.fixture(scope="module")
def prompts(tiny_track: Path, bf16: LoadedModel) -> list[list[int]]:
    """The tiny track's validation prompts: many lengths, so one batch is padded."""
    lume = load_lume(track_paths(tiny_track)["data_dir"], "validation")
    encoded = encode(bf16, [i.input for i in lume["forget"] + lume["retain"]])
    assert len({len(e) for e in encoded}) > 3
    return encoded


def test_rows_are_grouped_in_runs_of_equal_real_length_from_the_last_position():
    positions = torch.tensor([[0, 1, 2], [0, 1, 2], [0, 0, 1], [0, 0, 0], [0, 0, 1], [5, 6, 7]])
    assert length_groups(positions) == [(3, 0, 2), (2, 2, 3), (1, 3, 4), (2, 4, 5), (8, 5, 6)]


def _steps_alone(lm: LoadedModel, prompt: list[int], steps: int) -> list[torch.Tensor]:
    """``model.generate``'s logits at each step for one unpadded prompt (the per-item loop)."""
    config = greedy_config(lm, steps)
    config.output_logits, config.return_dict_in_generate = True, True
    out = lm.model.generate(input_ids=torch.tensor([prompt]), generation_config=config)
    return [step[0] for step in out.logits]


def test_a_padded_bf16_batch_by_row_has_each_rows_logits_alone_bit_for_bit(
    bf16: LoadedModel, prompts: list[list[int]]
):
    rows = prompts[:12]
    seen: dict[int, list[torch.Tensor]] = {i: [] for i in range(len(rows))}

    def keep(live, logits):
        for row, values in zip(live, logits):
            seen[row].append(values.clone())

    generate_and_score(bf16, rows, [[] for _ in rows], 16, on_step=keep, by_row=True)
    compared = 0
    for i, prompt in enumerate(rows):
        reference = _steps_alone(bf16, prompt, 16)
        assert len(seen[i]) == len(reference)
        for batched, alone in zip(seen[i], reference):
            assert torch.equal(batched, alone.float())
            compared += 1
    assert compared > 50
    # the model's own attention is back after the block
    assert bf16.model.config._attn_implementation == "sdpa"


def test_the_bf16_engine_by_row_writes_the_per_item_loops_generations_and_nlls(
    bf16: LoadedModel, tiny_track: Path
):
    lume = load_lume(track_paths(tiny_track)["data_dir"], "validation")
    pairs = [(i.input, i.output) for i in lume["forget"] + lume["retain"]][:24]
    by_row = computed(BatchedEngine(bf16, 4096, "by row").answer_items(pairs, 24))
    exact = computed(ReferenceEngine(bf16).answer_items(pairs, 24))
    assert [r[0] for r in by_row] == [r[0] for r in exact]
    # the answers' NLL, in its own pass by row, has the loop's bits
    assert [r[1] for r in by_row] == [r[1] for r in exact]
    assert any(r[1] is not None for r in exact)


def test_the_bf16_engine_by_row_gives_the_per_item_loops_mia_statistics(
    bf16: LoadedModel, tiny_track: Path
):
    """Every document's official NLL and token log-probabilities bit for bit, from
    left-padded batches of many lengths (on the mini track, where the padded pass
    differs: ``tests/e2e/test_agreement_bf16.py``)."""
    mia = load_mia(track_paths(tiny_track)["mia_dir"])
    texts = [d.document for d in mia["member"] + mia["nonmember"]]
    assert len({len(r) for r in encode(bf16, texts)}) > 3
    by_row = computed(BatchedEngine(bf16, 4096, "by row").document_stats(texts))
    exact = computed(ReferenceEngine(bf16).document_stats(texts))
    assert [s.mean_nll for s in by_row] == [s.mean_nll for s in exact]
    assert [s.logprobs for s in by_row] == [s.logprobs for s in exact]


def test_the_self_check_passes_in_bf16_on_cpu_and_picks_the_layout(tiny_track: Path):
    model_dir = track_paths(tiny_track)["model_dir"]
    assert rows_are_exact(load_model(model_dir, "cpu", "bfloat16"))
    assert generation_layout(load_model(model_dir, "cpu", "bfloat16")) == "by row"
    assert generation_layout(load_model(model_dir, "cpu", "float32")) == "padded"


def test_the_self_check_fails_where_rows_are_not_attended_apart(
    bf16: LoadedModel, monkeypatch: pytest.MonkeyPatch
):
    """Without attention by row the padded pair attends its padding, and the check sees
    it: generation then falls back to batches of equal prompt length."""
    monkeypatch.setattr(row_attention, "by_row", lambda model: nullcontext())
    assert not rows_are_exact(bf16)
    assert generation_layout(bf16) == "equal prompt length"


@pytest.mark.parametrize(
    "settings",
    [{"sliding_window": 4}, {"attention_chunk_size": 8},
     {"layer_types": ["full_attention", "sliding_attention", "full_attention"]}],
)  # fmt: skip
def test_a_model_whose_attention_is_not_plainly_causal_is_never_attended_by_row(
    tiny_track: Path, settings: dict
):
    lm = load_model(track_paths(tiny_track)["model_dir"], "cpu", "bfloat16")
    for name, value in settings.items():
        setattr(lm.model.config, name, value)
    assert not plain_causal(lm.model.config)
    assert generation_layout(lm) == "equal prompt length"


def test_a_model_whose_attention_fails_by_row_falls_back(
    bf16: LoadedModel, monkeypatch: pytest.MonkeyPatch
):
    def refuses(*args, **kwargs):
        raise RuntimeError("The size of tensor a (5) must match the size of tensor b (3)")

    monkeypatch.setattr(row_attention, "sdpa_attention_forward", refuses)
    assert generation_layout(bf16) == "equal prompt length"


def test_the_attention_switch_reads_transformers_private_attribute_where_it_still_is(
    bf16: LoadedModel,
):
    """transformers sets attention publicly (``set_attn_implementation``) but has no public
    getter: the engine reads ``config._attn_implementation``. If a transformers release
    moves it, this fails loudly here, not as attention that silently attends padding."""
    config = bf16.model.config
    assert attention_implementation(bf16.model) == config._attn_implementation == "sdpa"
    with row_attention.by_row(bf16.model):
        assert attention_implementation(bf16.model) == config._attn_implementation == ROW_ATTENTION
    assert attention_implementation(bf16.model) == "sdpa"


def test_a_model_that_cannot_switch_its_attention_is_never_attended_by_row(
    bf16: LoadedModel, monkeypatch: pytest.MonkeyPatch
):
    """transformers only warns when a model class cannot switch its attention: by_row
    refuses then, and generation falls back to batches of equal prompt length."""
    monkeypatch.setattr(bf16.model, "set_attn_implementation", lambda name: None)
    with pytest.raises(ValueError, match="cannot switch"), row_attention.by_row(bf16.model):
        pass
    assert generation_layout(bf16) == "equal prompt length"
