"""The records the judge reads: LUME items, MIA documents, MMLU questions (frozen, pure)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from scorer.data.reading import show

ITEM_COLUMNS = ("id", "input", "output", "task", "split")
MIA_SETS = ("member", "nonmember")
MMLU_SPLITS = ("dev", "test")
MMLU_COLUMNS = ("question", "subject", "choices", "answer")

# The official scorer tells sc from qa by id[-3:-1]; anything else is not scorable.
_ITEM_ID_RE = re.compile(r".+(sc|qa)[0-9]", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Item:
    """One scored LUME item: a prompt (``input``) and its memorized ``output``."""

    id: str
    input: str
    output: str
    task: str
    split: str

    @property
    def kind(self) -> str:
        """``"sc"`` (sentence completion) or ``"qa"``, as the official scorer says."""
        return self.id[-3:-1]

    @property
    def document_id(self) -> str:
        """The id of the item's document (literal quotes kept, as in the data)."""
        return self.id[:-3]


@dataclass(frozen=True, slots=True)
class MiaDocument:
    """One document of the membership-inference sets."""

    id: str
    document: str


@dataclass(frozen=True, slots=True)
class MmluQuestion:
    """One four-way multiple-choice MMLU question; ``answer`` indexes ``choices``."""

    subject: str
    question: str
    choices: tuple[str, str, str, str]
    answer: int


def item_kind(item_id: str) -> str:
    """Return ``"sc"`` or ``"qa"`` for a well-formed item id, else raise ``ValueError``.

    Loaders catch the ``ValueError`` and re-raise it as a ``DataError`` with the file
    and row, which this function cannot know.
    """
    if not isinstance(item_id, str) or not _ITEM_ID_RE.fullmatch(item_id):
        raise ValueError(
            f"id {show(item_id)} is not a document id followed by sc<digit> or qa<digit>"
        )
    return item_id[-3:-1]
