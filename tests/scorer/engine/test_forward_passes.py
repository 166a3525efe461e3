"""The batched single passes against the official per-item loss: the official NLL's own
shapes give its bits, padded batches stay within float rounding of it."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from scorer.data.lume import load_lume
from scorer.engine.batching import encode
from scorer.engine.forward_passes import answer_nll_batch, official_mean_nll, token_stats_batch
from scorer.engine.model import LoadedModel, load_model
from scorer.engine.reference import answer_nll_one, mean_nll_one

from scoring import track_paths


@pytest.fixture(scope="module", params=["float32", "bfloat16"])
def lm(request, tiny_track: Path) -> LoadedModel:
    return load_model(track_paths(tiny_track)["model_dir"], "cpu", request.param)


@pytest.fixture(scope="module")
def pairs(tiny_track: Path) -> list[tuple[str, str]]:
    lume = load_lume(track_paths(tiny_track)["data_dir"], "validation")
    return [(i.input, i.output) for i in lume["forget"] + lume["retain"]][:40]


@torch.inference_mode()
def test_the_official_nll_from_the_read_positions_has_the_models_loss_bits(lm, pairs):
    """One unpadded row: the loss transformers computes with labels (the per-item loop)
    equals :func:`official_mean_nll` of the positions read, whole texts and answers."""
    for prompt, answer in pairs:
        ids = lm.tokenizer(prompt + answer, return_tensors="pt")["input_ids"]
        start = len(lm.tokenizer(prompt)["input_ids"])
        logits = lm.model(input_ids=ids).logits[0]
        whole = official_mean_nll(logits[:-1], ids[0, 1:])
        assert whole == mean_nll_one(lm, prompt + answer)
        if start < ids.shape[1]:
            given = official_mean_nll(logits[start - 1 : -1], ids[0, start:], start - 1)
            assert given == answer_nll_one(lm, prompt, answer)


@torch.inference_mode()
def test_other_ways_to_the_same_mean_round_differently(lm, pairs):
    """Why the official shapes: an answer's mean over its own positions alone, and a
    document's summed log-probabilities over their count, miss the loop's bits on some
    rows (so the test above could fail)."""
    answer_alone = summed = 0
    for prompt, answer in pairs:
        ids = lm.tokenizer(prompt + answer, return_tensors="pt")["input_ids"]
        start = len(lm.tokenizer(prompt)["input_ids"])
        logits = lm.model(input_ids=ids).logits[0, :-1].float()
        alone = float(torch.nn.functional.cross_entropy(logits[start - 1 :], ids[0, start:]))
        answer_alone += alone != answer_nll_one(lm, prompt, answer)
        picked = torch.log_softmax(logits, -1).gather(-1, ids[0, 1:, None])
        summed += float(-picked.sum() / len(picked)) != mean_nll_one(lm, prompt + answer)
    assert answer_alone > 0 and summed > 0


def test_padded_batches_are_within_rounding_of_the_per_item_loss(lm, pairs):
    rows = encode(lm, [p + a for p, a in pairs])
    starts = [len(ids) for ids in encode(lm, [p for p, _ in pairs])]
    tolerance = 1e-5 if lm.model.dtype == torch.float32 else 2e-2
    for nll, (prompt, answer) in zip(answer_nll_batch(lm, rows, starts), pairs):
        official = answer_nll_one(lm, prompt, answer)
        assert nll == (None if official is None else pytest.approx(official, rel=tolerance))
    for stats, (prompt, answer) in zip(token_stats_batch(lm, rows), pairs):
        assert stats.mean_nll == pytest.approx(mean_nll_one(lm, prompt + answer), rel=tolerance)


def test_a_row_without_an_answer_token_or_a_prompt_has_no_nll(lm):
    nlls = answer_nll_batch(lm, [[5, 6, 7], [5, 6, 7, 8], [9, 10]], [3, 3, 0])
    assert nlls[0] is None and nlls[2] is None
    assert nlls[1] == pytest.approx(answer_nll_batch(lm, [[5, 6, 7, 8]], [3])[0], rel=2e-2)
    assert answer_nll_batch(lm, [[5, 6, 7]], [3]) == [None]  # nothing to read in the batch
