"""The inputs against the tokenizer and the model's context, before the model loads: a text
that tokenizes to nothing is refused (file, row, field); texts longer than the context are
counted and reported, never cut.

The official loop ran every text whole: generation prompts past the context (with a
transformers warning) and MIA documents through one pass. The kit does the same with a model
whose positions are rotary (computed for any position), and says how many texts went past
the context; with a position table that ends at the context it refuses, naming the longest.
"""

from __future__ import annotations

from pathlib import Path

from scorer.data.reading import location
from scorer.data.records import Item, MiaDocument
from scorer.errors import DataError, ModelError


def _counts(tokenizer, texts: list[str]) -> list[int]:
    return [len(ids) for ids in tokenizer(texts)["input_ids"]] if texts else []


def _overlong(lengths: list[int], context: int) -> dict:
    over = [n for n in lengths if n > context]
    return {"count": len(over), "longest": max(lengths, default=0), "context": context}


def check_items(tokenizer, items: list[Item], files: dict[str, Path], context: int) -> dict:
    """Refuse an item whose non-empty ``input`` gives no token (nothing to generate from);
    return how many prompts, and ``input + output`` rows (the answer NLL), exceed the context.
    ``files`` maps a split to its file, for the message."""
    prompts = _counts(tokenizer, [i.input for i in items])
    rows: dict[str, int] = {}
    for item, n in zip(items, prompts):
        rows[item.split] = rows.get(item.split, 0) + 1
        if n == 0:
            where = location(f"row {rows[item.split]}", item.id)
            raise DataError(
                f"{files.get(item.split, item.split)}: {where}: field 'input' gives no token "
                "(the tokenizer drops every character of it), nothing to generate from"
            )
    joined = _counts(tokenizer, [i.input + i.output for i in items])
    return {"prompts": _overlong(prompts, context), "answer_rows": _overlong(joined, context)}


def check_documents(
    tokenizer, mia: dict[str, list[MiaDocument]], files: dict[str, Path], context: int
) -> dict:
    """Refuse an MIA document of fewer than two tokens (no NLL defined); return how many
    exceed the context (run whole, as the official loop did)."""
    lengths = []
    for name, docs in mia.items():
        counts = _counts(tokenizer, [d.document for d in docs])
        for row, (doc, n) in enumerate(zip(docs, counts), start=1):
            if n < 2:
                raise DataError(
                    f"{files.get(name, name)}: {location(f'row {row}', doc.id)}: field "
                    f"'document' gives {n} token{'s' if n != 1 else ''}; the NLL needs two"
                )
        lengths += counts
    return _overlong(lengths, context)


def refuse_past_a_table(report: dict, rotary: bool, model_dir: str | Path) -> None:
    """A model with a position table has no position past its context: say which texts
    would need one instead of cutting them (the official loop never cut a text)."""
    if rotary:
        return
    for what, counts in report.items():
        if counts and counts["count"]:
            raise ModelError(
                f"{model_dir}: {counts['count']} {what.replace('_', ' ')} exceed the model's "
                f"context of {counts['context']} tokens (the longest: {counts['longest']}) "
                "and its positions are a table that ends there; the official loop ran "
                "every text whole"
            )
