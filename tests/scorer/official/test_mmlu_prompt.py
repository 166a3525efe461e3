"""open-instruct's MMLU prompt, shot dropping and candidate tokens, character for character."""

from __future__ import annotations

import pytest

from scorer.data.records import MmluQuestion
from scorer.official.mmlu_prompt import (
    accuracy,
    answer_token_ids,
    fitted_prompt,
    format_subject,
    mmlu_prompt,
)

SHOT = MmluQuestion("abstract_algebra", "Find 1+1.", ("1", "2", "3", "4"), 1)
QUESTION = MmluQuestion("abstract_algebra", "Is Z a group?", ("yes", "no", "maybe", "None"), 0)


def test_prompt_is_open_instructs_format():
    assert format_subject("abstract_algebra") == " abstract algebra"
    assert mmlu_prompt("abstract_algebra", [SHOT], QUESTION) == (
        "The following are multiple choice questions (with answers) about  abstract algebra.\n\n"
        "Find 1+1.\nA. 1\nB. 2\nC. 3\nD. 4\nAnswer: B\n\n"
        "Is Z a group?\nA. yes\nB. no\nC. maybe\nD. None\nAnswer:"
    )


def test_shots_are_dropped_until_the_prompt_fits():
    dev = [SHOT] * 5

    def count(text: str) -> int:
        return len(text)

    full, k = fitted_prompt("abstract_algebra", dev, QUESTION, 5, count, 10_000)
    assert k == 5 and full.count("Answer: B") == 5
    limit = len(mmlu_prompt("abstract_algebra", dev[:2], QUESTION))
    prompt, k = fitted_prompt("abstract_algebra", dev, QUESTION, 5, count, limit)
    assert k == 2 and len(prompt) == limit
    # zero shots is the floor even when nothing fits
    assert fitted_prompt("abstract_algebra", dev, QUESTION, 5, count, 1)[1] == 0
    # asking for more shots than the dev split holds uses them all
    assert fitted_prompt("abstract_algebra", dev[:3], QUESTION, 5, count, 10_000)[1] == 3


def test_candidate_ids_are_the_last_token_of_space_letter():
    vocab = {" A": [7], " B": [3, 8], " C": [9], " D": [10]}
    assert answer_token_ids(lambda s: vocab[s]) == [7, 8, 9, 10]


def test_accuracy_is_a_micro_average():
    assert accuracy([0, 1, 2, 3], [0, 1, 0, 0]) == 0.5
    with pytest.raises(ValueError):
        accuracy([], [])
