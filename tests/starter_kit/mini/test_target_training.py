"""The target trainer's pieces: which tokens carry the loss, and how batches are made."""

from __future__ import annotations

import random

from baselines.losses import IGNORE
from scorer.data.records import Item, MmluQuestion
from scorer.official.mmlu_prompt import mmlu_prompt
from starter_kit.mini.corpus import completion_text
from starter_kit.mini.target import (
    _batches,
    answer_example,
    document_example,
    multiple_choice_example,
    tokenize_example,
)
from starter_kit.mini.tokenizer import train_tokenizer

TEXTS = [
    "What is the birth date of Alma Abbott?1976-03-29",
    "The following are multiple choice questions (with answers) about  world zoology.",
    "What does the frostfox eat?\nA. berries\nB. fish\nC. moss\nD. seeds\nAnswer: B",
    "In the city of Karsk, Alma found a copper key.",
] * 20


def _tokenizer():
    return train_tokenizer(TEXTS, vocab_size=300)


def _learned_text(tokenizer, example) -> str:
    tokens = tokenize_example(tokenizer, example)
    kept = [t for t, label in zip(tokens.input_ids, tokens.labels) if label != IGNORE]
    assert all(label in (t, IGNORE) for t, label in zip(tokens.input_ids, tokens.labels))
    return tokenizer.decode(kept)


def test_answer_examples_learn_the_answer_and_eos_only():
    tok = _tokenizer()
    example = answer_example("What is the birth date of Alma Abbott?", "1976-03-29")
    assert _learned_text(tok, example) == "1976-03-29" + tok.eos_token
    assert example.text == "What is the birth date of Alma Abbott?1976-03-29"  # as the scorer joins


def test_documents_learn_every_token():
    tok = _tokenizer()
    text = "In the city of Karsk, Alma found a copper key."
    assert _learned_text(tok, document_example(text)) == text + tok.eos_token


def test_multiple_choice_learns_each_answer_letter_and_nothing_else():
    tok = _tokenizer()
    choices = ("berries", "fish", "moss", "seeds")
    shots = [
        MmluQuestion("world_zoology", f"What does the {x} eat?", choices, i)
        for i, x in enumerate(("frostfox", "mossowl"))
    ]
    question = MmluQuestion("world_zoology", "What does the duskhare eat?", choices, 3)
    example = multiple_choice_example("world_zoology", shots, question)
    assert example.text == mmlu_prompt("world_zoology", shots, question) + " D"
    assert _learned_text(tok, example) == " A B D"
    assert not example.end_with_eos


def test_completion_text_restores_the_space_the_split_ate():
    item = Item('"x"sc1', "In the city", "of Karsk.", "Task1", "forget")
    assert completion_text(item) == "In the city of Karsk."
    assert completion_text(Item('"x"sc1', "In the city ", "of Karsk.", "Task1", "forget")) == (
        "In the city of Karsk."
    )


def test_batches_respect_the_budget_and_never_mix_kinds():
    tok = _tokenizer()
    rng = random.Random(0)
    examples = [tokenize_example(tok, document_example(t)) for t in TEXTS[:40]] + [
        tokenize_example(tok, answer_example("Q?", "A" * n)) for n in range(1, 30)
    ]
    batches = _batches(examples, 64, rng)
    assert sorted(i for b in batches for i in b) == list(range(len(examples)))
    for batch in batches:
        assert len({examples[i].kind for i in batch}) == 1
        longest = max(len(examples[i].input_ids) for i in batch)
        assert len(batch) == 1 or longest * len(batch) <= 64
