"""The batched engine against the independent reference engine (the official per-item
loop): the same generations, answer NLLs, MIA statistics and MMLU choices."""

from __future__ import annotations

import ast
import warnings
from pathlib import Path

import pytest
import torch

from scorer.data.mmlu import load_mmlu
from scorer.engine import reference
from scorer.engine.batched import BatchedEngine, answer_split
from scorer.engine.batching import encode
from scorer.engine.forward_passes import choose_after_prefix
from scorer.engine.generation import generate, generate_and_score
from scorer.engine.interface import ChoicePrompt
from scorer.engine.model import LoadedModel
from scorer.engine.reference import ReferenceEngine, choice_one, generate_one
from scorer.official.mmlu_prompt import answer_token_ids, format_question, shots_prefix

from scoring import computed, track_paths
from tiny import PAIRS


def test_greedy_loop_equals_model_generate_row_by_row(lm: LoadedModel):
    prompts = ["Alice was", "The", "In the year 1990, a quiet town", "x"]
    batched = generate(lm, prompts, max_new_tokens=24)
    assert batched == [generate_one(lm, t, 24) for t in prompts]


def test_the_engines_agree_on_items(lm: LoadedModel):
    """Generation and answer NLL share one pass; a join that retokenizes the prompt falls
    back to its own pass; both as the official per-item loop."""
    prompts = encode(lm, [i for i, _ in PAIRS])
    joined = encode(lm, [i + o for i, o in PAIRS])
    splits = [answer_split(q, r, min(len(q), len(r))) for q, r in zip(prompts, joined)]
    assert splits[3] is None and all(s is not None for k, s in enumerate(splits) if k != 3)

    for budget in (8, 4096):  # one item per batch, all in one batch
        fast = computed(BatchedEngine(lm, budget).answer_items(PAIRS, 12))
        slow = computed(ReferenceEngine(lm).answer_items(PAIRS, 12))
        assert [r[0] for r in fast] == [r[0] for r in slow]
        assert [r[1] is None for r in fast] == [False, False, False, False, True]
        assert all(r[2] > 0 for r in fast)  # each row's smallest top-2 margin
        for (_, nll, _), (_, official) in zip(fast, slow):
            assert nll == (None if official is None else pytest.approx(official, abs=1e-5))

    # the prefill in chunks of one row each, caches stacked: the same tokens and NLLs
    rows = [(q, s) for q, s in zip(prompts, splits) if s is not None]
    whole = generate_and_score(lm, [q for q, _ in rows], [s for _, s in rows], 12)
    apart = generate_and_score(lm, [q for q, _ in rows], [s for _, s in rows], 12, 1)
    assert apart[0] == whole[0]
    assert apart[1] == pytest.approx(whole[1], abs=1e-5)


def test_the_engines_agree_on_mia_statistics(tiny_track: Path, lm: LoadedModel):
    from scorer.data.mia import load_mia

    mia = load_mia(track_paths(tiny_track)["mia_dir"])
    texts = [d.document for d in mia["member"] + mia["nonmember"]]
    fast = computed(BatchedEngine(lm, 4096).document_stats(texts))
    slow = computed(ReferenceEngine(lm).document_stats(texts))
    for f, s, text in zip(fast, slow, texts):
        ids = lm.tokenizer(text, return_tensors="pt")["input_ids"]
        with torch.inference_mode():
            official = float(lm.model(input_ids=ids, labels=ids).loss)
        assert s.mean_nll == official  # the reference is the official loss itself
        assert f.mean_nll == pytest.approx(official, abs=1e-5)
        assert len(f.logprobs) == len(s.logprobs) == ids.shape[1] - 1
        assert f.logprobs == pytest.approx(s.logprobs, abs=1e-5)
        assert f.mu == pytest.approx(s.mu, abs=1e-5)
        assert f.sigma == pytest.approx(s.sigma, abs=1e-4)


@pytest.fixture(scope="module")
def subject(tiny_track: Path) -> tuple[str, list, list]:
    mmlu = load_mmlu(track_paths(tiny_track)["mmlu_dir"])
    name = sorted(mmlu["test"])[0]
    return name, mmlu["dev"][name], mmlu["test"][name]


def test_prefix_reuse_chooses_what_the_whole_prompt_chooses(lm: LoadedModel, subject):
    name, dev, questions = subject
    prefix_text = shots_prefix(name, dev)
    prefix = lm.tokenizer(prefix_text)["input_ids"]
    prompts = [prefix_text + format_question(q, False) for q in questions]
    fulls = [lm.tokenizer(t)["input_ids"] for t in prompts]
    assert all(f[: len(prefix)] == prefix for f in fulls)
    candidates = answer_token_ids(lambda s: lm.tokenizer.encode(s, add_special_tokens=False))
    with torch.inference_mode():
        reference_logits = [
            lm.model(input_ids=torch.tensor([f])).logits[0, -1, candidates] for f in fulls
        ]
    chosen = choose_after_prefix(lm, prefix, [f[len(prefix) :] for f in fulls], candidates)
    assert chosen == [int(x.argmax()) for x in reference_logits]
    assert chosen == [choice_one(lm, t, candidates) for t in prompts]

    work = BatchedEngine(lm, 4096).choices([ChoicePrompt(t, prefix_text) for t in prompts],
                                           candidates)  # fmt: skip
    assert [b.shared for b in work.batches] == [tuple(prefix)]  # the prefix is run once
    assert computed(work) == chosen


def test_a_prompt_that_does_not_split_at_the_prefix_is_run_whole(lm: LoadedModel, subject):
    """``shared`` ends inside "does": the questions' tokens do not begin with the prefix's
    tokens, so they are run whole; a prompt that does split reuses the prefix."""
    name, dev, questions = subject
    shared = shots_prefix(name, dev) + "What doe"
    texts = [shots_prefix(name, dev) + format_question(q, False)[:n]
             for q in questions for n in (14, 22, None)]  # fmt: skip
    prompts = [ChoicePrompt(t, shared) for t in [*texts, shared + " is it?\nAnswer:"]]
    prefix = lm.tokenizer(shared)["input_ids"]
    fulls = [lm.tokenizer(p.text)["input_ids"] for p in prompts]
    assert [f[: len(prefix)] == prefix for f in fulls] == [False] * len(texts) + [True]

    official = answer_token_ids(lambda s: lm.tokenizer.encode(s, add_special_tokens=False))
    everything = list(range(lm.model.config.vocab_size))  # a choice that tells logits apart
    for candidates in (official, everything):
        work = BatchedEngine(lm, 4096).choices(prompts, candidates)
        shared_of = {i: b.shared for b in work.batches for i in b.indices}
        assert [shared_of[i] for i in range(len(prompts))] == [()] * len(texts) + [tuple(prefix)]
        assert computed(work) == [choice_one(lm, p.text, candidates) for p in prompts]


def test_no_engine_call_warns(lm: LoadedModel, subject):
    """transformers 5 renamed ``past_key_values`` to ``cache``; the engines use the new
    name (and nothing else they call is deprecated)."""
    name, dev, questions = subject
    prompts = [ChoicePrompt(shots_prefix(name, dev) + format_question(q, False),
                            shots_prefix(name, dev)) for q in questions]  # fmt: skip
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for engine in (BatchedEngine(lm, 4096), ReferenceEngine(lm)):
            computed(engine.answer_items(PAIRS, 8))
            computed(engine.document_stats(["Alice was born in a small town."]))
            computed(engine.choices(prompts, [0, 1, 2, 3]))
    assert [str(w.message) for w in caught] == []


def test_the_reference_engine_shares_no_batched_helper():
    """A bug in a batched helper must show as a disagreement, not be copied into the
    reference: the reference imports only the model, the pure statistics, the plan and
    the official clean-up."""
    tree = ast.parse(Path(reference.__file__).read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    ours = {m for m in imported if m.startswith("scorer")}
    assert ours == {
        "scorer.engine.interface",
        "scorer.engine.model",
        "scorer.engine.token_stats",
        "scorer.engine.workplan",
        "scorer.official.metrics",
    }
