"""What the tiny target trains on, as text examples (pure: items and facts in, examples out).

The same recipe serves the generated world and any LUME-format source: every ``sc`` item
as running text (prompt then continuation), every ``qa`` item as question then answer
(the loss on the answer, as the scorer concatenates ``input + output``), the MIA member
documents, and the utility facts as statements and as MMLU-format questions.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from scorer.data.records import Item, MmluQuestion
from starter_kit.mini.target import (
    TextExample,
    answer_example,
    document_example,
    multiple_choice_example,
)

MAX_SHOTS = 5
# Short answers and single answer letters carry few loss tokens per epoch next to whole
# documents; showing them more often makes them memorized in the same few minutes.
QA_REPEATS = 1
MULTIPLE_CHOICE_REPEATS = 1


def completion_text(item: Item) -> str:
    """The running text of an ``sc`` item: prompt, one space where the split ate it, rest."""
    if item.input[-1:].isspace() or item.output[:1].isspace():
        return item.input + item.output
    return item.input + " " + item.output


def memorization_examples(items: Sequence[Item], documents: Sequence[str]) -> list[TextExample]:
    """Every document and item once; a text already present is not repeated."""
    seen: set[str] = set()
    examples = []
    for text in [*documents, *(completion_text(i) for i in items if i.kind == "sc")]:
        if text not in seen:
            seen.add(text)
            examples.append(document_example(text))
    answers = [answer_example(i.input, i.output) for i in items if i.kind == "qa"]
    return examples + answers * QA_REPEATS


def utility_examples(
    statements: Sequence[str],
    questions: Sequence[MmluQuestion],
    rng: random.Random,
) -> list[TextExample]:
    """Fact statements, and each question inside groups of 1..6 of its subject.

    A group is an MMLU prompt whose shots are the group's other questions, so each
    epoch shows every question several times with fresh shots (0 to 5) and the loss on
    every answer letter.
    """
    examples = [document_example(s) for s in statements]
    by_subject: dict[str, list[MmluQuestion]] = {}
    for q in questions:
        by_subject.setdefault(q.subject, []).append(q)
    for subject in sorted(by_subject):
        for _ in range(MULTIPLE_CHOICE_REPEATS):
            examples += _question_groups(subject, by_subject[subject], rng)
    return examples


def _question_groups(
    subject: str, questions: Sequence[MmluQuestion], rng: random.Random
) -> list[TextExample]:
    pool = list(questions)
    rng.shuffle(pool)
    examples = []
    while pool:
        size = rng.randint(1, MAX_SHOTS + 1)
        group, pool = pool[:size], pool[size:]
        examples.append(multiple_choice_example(subject, group[:-1], group[-1]))
    return examples
