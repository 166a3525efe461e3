"""MMLU: the original CSV layout and the ``cais/mmlu`` hub parquet layout, validated."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from scorer.data.reading import decode_utf8, fail, read_parquet, show, type_name
from scorer.data.records import MMLU_SPLITS, MmluQuestion

_ANSWER_LETTERS = {"A": 0, "B": 1, "C": 2, "D": 3}


def _parse_answer(value: Any) -> int | None:
    """0..3 from an int or a letter A..D; ``None`` when it is neither."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value <= 3 else None
    if isinstance(value, str):
        return _ANSWER_LETTERS.get(value.strip())
    return None


def _mmlu_question(
    path: Path, label: str, *, subject: str, question: Any, choices: Any, answer: Any
) -> MmluQuestion:
    """Validate one MMLU row: exactly four string choices and an answer in A-D / 0-3."""
    if not isinstance(question, str):
        raise fail(
            path,
            f"{label}: field 'question' has type {type_name(question)}, expected str",
        )
    if not isinstance(choices, (list, tuple)) or len(choices) != 4:
        count = len(choices) if isinstance(choices, (list, tuple)) else type_name(choices)
        raise fail(path, f"{label}: field 'choices' has {count} choices, expected 4")
    for choice in choices:
        if not isinstance(choice, str):
            raise fail(
                path,
                f"{label}: field 'choices' holds a {type_name(choice)}, expected str",
            )
    parsed = _parse_answer(answer)
    if parsed is None:
        raise fail(
            path,
            f"{label}: field 'answer' is {show(answer)}, expected A, B, C, D or 0..3",
        )
    return MmluQuestion(
        subject=subject,
        question=question,
        choices=(choices[0], choices[1], choices[2], choices[3]),
        answer=parsed,
    )


def _read_mmlu_csv(path: Path, subject: str) -> list[MmluQuestion]:
    """Original layout: no header; question, A, B, C, D, answer letter.

    Cells are kept as text (no NA parsing), so a choice "None" stays "None".
    """
    reader = csv.reader(io.StringIO(decode_utf8(path), newline=""))
    questions = []
    number = 0
    try:
        for number, row in enumerate(reader, start=1):
            if not row:
                continue
            label = f"row {number}"
            if len(row) != 6:
                raise fail(
                    path,
                    f"{label}: field 'choices' has {len(row) - 2} choices, "
                    "expected 4 (a row is question, A, B, C, D, answer)",
                )
            questions.append(
                _mmlu_question(
                    path,
                    label,
                    subject=subject,
                    question=row[0],
                    choices=row[1:5],
                    answer=row[5],
                )
            )
    except csv.Error as exc:
        raise fail(path, f"row {number + 1}: not valid CSV ({exc})") from exc
    return questions


def _read_mmlu_parquet(path: Path, dir_subject: str | None) -> list[MmluQuestion]:
    """Hub layout; the subject is the column's, or the directory's when empty."""
    required = ("question", "choices", "answer") + (("subject",) if dir_subject is None else ())
    count, columns = read_parquet(path, required, optional=("subject",))
    subjects = columns.get("subject", [None] * count)
    questions = []
    for i in range(count):
        label = f"row {i + 1}"
        subject = subjects[i] if isinstance(subjects[i], str) and subjects[i] else dir_subject
        if subject is None:
            raise fail(path, f"{label}: field 'subject' is empty")
        questions.append(
            _mmlu_question(
                path,
                label,
                subject=subject,
                question=columns["question"][i],
                choices=columns["choices"][i],
                answer=columns["answer"][i],
            )
        )
    return questions


def _csv_root(mmlu_dir: Path) -> Path | None:
    for base in (mmlu_dir, mmlu_dir / "data"):
        if (base / "test").is_dir() and any((base / "test").glob("*_test.csv")):
            return base
    return None


def _group(questions: Iterable[MmluQuestion]) -> dict[str, list[MmluQuestion]]:
    grouped: dict[str, list[MmluQuestion]] = {}
    for q in questions:
        grouped.setdefault(q.subject, []).append(q)
    return {s: grouped[s] for s in sorted(grouped)}


def _load_mmlu_csv(root: Path) -> dict[str, dict[str, list[MmluQuestion]]]:
    result: dict[str, dict[str, list[MmluQuestion]]] = {}
    for split in MMLU_SPLITS:
        suffix = f"_{split}"
        files = sorted((root / split).glob(f"*{suffix}.csv")) if (root / split).is_dir() else []
        result[split] = _group(q for f in files for q in _read_mmlu_csv(f, f.stem[: -len(suffix)]))
    return result


def _subject_dirs(mmlu_dir: Path) -> list[Path]:
    """Per-subject dirs with dev/test parquet; ``all/`` only when it is alone."""
    dirs = sorted(
        d
        for d in mmlu_dir.iterdir()
        if d.is_dir() and any(d.glob(f"{s}-*.parquet") for s in MMLU_SPLITS)
    )
    per_subject = [d for d in dirs if d.name != "all"]
    return per_subject or dirs


def _load_mmlu_parquet(mmlu_dir: Path) -> dict[str, dict[str, list[MmluQuestion]]]:
    dirs = _subject_dirs(mmlu_dir)
    result: dict[str, dict[str, list[MmluQuestion]]] = {}
    for split in MMLU_SPLITS:
        questions: list[MmluQuestion] = []
        for d in dirs:
            dir_subject = None if d.name == "all" else d.name
            for f in sorted(d.glob(f"{split}-*.parquet")):
                questions.extend(_read_mmlu_parquet(f, dir_subject))
        result[split] = _group(questions)
    return result


def load_mmlu(
    mmlu_dir: str | os.PathLike[str],
) -> dict[str, dict[str, list[MmluQuestion]]]:
    """Load MMLU as ``{"dev": {subject: [...]}, "test": {subject: [...]}}``.

    Accepts the original CSV layout (``[data/]{dev,test}/<subject>_{split}.csv``) or
    the ``cais/mmlu`` hub parquet layout (``<subject>/{dev,test}-*.parquet``). The
    test split is required; dev may be empty, since the caller chooses 0-shot or
    k-shot. Subjects are sorted by name, questions kept in file order.
    """
    mmlu_dir = Path(mmlu_dir)
    if not mmlu_dir.is_dir():
        raise fail(mmlu_dir, "directory not found")
    root = _csv_root(mmlu_dir)
    result = _load_mmlu_csv(root) if root is not None else _load_mmlu_parquet(mmlu_dir)
    if not result["test"]:
        raise fail(
            mmlu_dir,
            "no MMLU test questions found; looked for "
            "[data/]test/<subject>_test.csv and <subject>/test-*.parquet",
        )
    return result
