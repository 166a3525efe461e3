"""The inputs against the tokenizer and the context, before the model loads: a text with no
token is refused naming file, row and field; texts past the context are counted, never cut."""

from __future__ import annotations

from pathlib import Path

import pytest

from scorer.data.records import Item, MiaDocument
from scorer.errors import DataError, ModelError
from scorer.evaluation.tokens import check_documents, check_items, refuse_past_a_table


def letters(texts: list[str]) -> dict:
    """A tokenizer stand-in: one token per letter or digit, nothing for anything else."""
    return {"input_ids": [[ord(c) for c in t if c.isalnum()] for t in texts]}


def _item(n: int, text: str, split: str = "forget") -> Item:
    return Item(f"doc{n}sc1", text, "abc", "Task1", split)


FILES = {"forget": Path("d/forget.jsonl"), "retain": Path("d/retain.jsonl")}


def test_an_input_with_no_token_names_file_row_and_field():
    items = [_item(1, "ok", "retain"), _item(2, "fine"), _item(3, "\u200b ...")]
    with pytest.raises(DataError) as caught:
        check_items(letters, items, FILES, 100)
    message = str(caught.value)
    assert message.startswith("d/forget.jsonl: row 2 (id 'doc3sc1'): field 'input' gives no token")
    assert "\n" not in message


def test_texts_past_the_context_are_counted_with_the_longest():
    items = [_item(1, "a" * 5), _item(2, "b" * 12), _item(3, "c" * 9)]
    report = check_items(letters, items, FILES, 8)
    assert report["prompts"] == {"count": 2, "longest": 12, "context": 8}
    assert report["answer_rows"] == {"count": 2, "longest": 15, "context": 8}  # + "abc"
    mia = {"member": [MiaDocument("m", "x" * 20)], "nonmember": [MiaDocument("n", "yy")]}
    assert check_documents(letters, mia, {}, 8) == {"count": 1, "longest": 20, "context": 8}


def test_an_mia_document_of_one_token_is_refused_before_the_model_loads():
    mia = {"member": [MiaDocument("m", "xy")], "nonmember": [MiaDocument("n1", "y!!")]}
    with pytest.raises(
        DataError, match=r"^m/nonmember.jsonl: row 1 \(id 'n1'\): field 'document' gives 1 token"
    ):
        check_documents(letters, mia, {"nonmember": Path("m/nonmember.jsonl")}, 8)


def test_past_the_context_a_position_table_is_refused_and_rotary_runs_whole():
    report = {"prompts": {"count": 2, "longest": 12, "context": 8}, "MIA documents": None}
    refuse_past_a_table(report, True, "ckpt")  # rotary: runs whole, as the official loop
    with pytest.raises(ModelError, match="2 prompts exceed the model's context of 8 tokens "
                       r"\(the longest: 12\)"):  # fmt: skip
        refuse_past_a_table(report, False, "ckpt")
    refuse_past_a_table({"prompts": {"count": 0, "longest": 5, "context": 8}}, False, "ckpt")
