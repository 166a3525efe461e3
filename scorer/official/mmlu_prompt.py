"""MMLU prompts and accuracy exactly as open-instruct's ``eval/mmlu/run_eval.py`` built them.

The header keeps open-instruct's double space ("about  abstract algebra."), shots come
from the dev split in file order, and shots are dropped one at a time until the prompt
fits (counted without special tokens, as there). The prediction is the argmax over the
next-token logits of " A".." D" — the same choice as argmax over their probabilities.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from scorer.data.records import MmluQuestion

CHOICE_LETTERS = ("A", "B", "C", "D")


def format_subject(subject: str) -> str:
    """``"abstract_algebra"`` → ``" abstract algebra"`` (leading space kept on purpose)."""
    return "".join(" " + part for part in subject.split("_"))


def format_question(question: MmluQuestion, with_answer: bool) -> str:
    text = question.question
    for letter, choice in zip(CHOICE_LETTERS, question.choices):
        text += f"\n{letter}. {choice}"
    text += "\nAnswer:"
    if with_answer:
        text += f" {CHOICE_LETTERS[question.answer]}\n\n"
    return text


def shots_prefix(subject: str, shots: Sequence[MmluQuestion]) -> str:
    """The header and the answered shots: the part all of a subject's prompts share."""
    header = (
        "The following are multiple choice questions (with answers) about "
        f"{format_subject(subject)}.\n\n"
    )
    return header + "".join(format_question(s, True) for s in shots)


def mmlu_prompt(subject: str, shots: Sequence[MmluQuestion], question: MmluQuestion) -> str:
    return shots_prefix(subject, shots) + format_question(question, False)


def fitted_prompt(
    subject: str,
    dev: Sequence[MmluQuestion],
    question: MmluQuestion,
    shots: int,
    count_tokens: Callable[[str], int],
    max_tokens: int,
) -> tuple[str, int]:
    """The prompt with the most shots (≤ ``shots``) that fits ``max_tokens``; and that count."""
    k = min(shots, len(dev))
    prompt = mmlu_prompt(subject, dev[:k], question)
    while k > 0 and count_tokens(prompt) > max_tokens:
        k -= 1
        prompt = mmlu_prompt(subject, dev[:k], question)
    return prompt, k


def answer_token_ids(encode: Callable[[str], list[int]]) -> list[int]:
    """The last token of ``" A"``..``" D"`` (open-instruct's choice of candidate ids)."""
    return [encode(" " + letter)[-1] for letter in CHOICE_LETTERS]


def accuracy(predictions: Sequence[int], answers: Sequence[int]) -> float:
    """Micro average over all questions of all subjects (open-instruct's ``average_acc``)."""
    if len(predictions) != len(answers):
        raise ValueError("predictions and answers differ in length")
    if not answers:
        raise ValueError("no MMLU questions to score")
    return sum(p == a for p, a in zip(predictions, answers)) / len(answers)
