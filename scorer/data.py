"""The one definition of the data formats the judge reads and writes.

LUME splits (hub layout and submission layout, parquet or jsonl), the MIA member /
nonmember sets, and MMLU (the original CSV layout and the ``cais/mmlu`` hub parquet
layout). Every loader validates what it reads and fails with a one-line
:class:`~scorer.errors.DataError` naming the file, the row and the field, because a
participant must be able to fix their data from the message alone. The writers
produce byte-identical files for identical input so generated datasets are
reproducible and checksummable.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from scorer.errors import DataError

__all__ = [
    "FOLDS",
    "ITEM_COLUMNS",
    "SPLITS",
    "TASKS",
    "Item",
    "MiaDocument",
    "MmluQuestion",
    "find_lume_files",
    "item_kind",
    "load_items",
    "load_lume",
    "load_mia",
    "load_mmlu",
    "write_bytes_atomic",
    "write_items_jsonl",
    "write_items_parquet",
    "write_mia_jsonl",
    "write_mmlu_parquet",
]

TASKS = ("Task1", "Task2", "Task3")
SPLITS = ("forget", "retain")
FOLDS = ("train", "validation")
ITEM_COLUMNS = ("id", "input", "output", "task", "split")
MIA_SETS = ("member", "nonmember")
MMLU_SPLITS = ("dev", "test")
MMLU_COLUMNS = ("question", "subject", "choices", "answer")

# The official scorer tells sc from qa by id[-3:-1]; anything else is not scorable.
_ITEM_ID_RE = re.compile(r".+(sc|qa)[0-9]", re.DOTALL)
_ANSWER_LETTERS = {"A": 0, "B": 1, "C": 2, "D": 3}
_MAX_SHOWN = 80  # characters of an offending value quoted in a message


# ----------------------------------------------------------------- records


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
            f"id {_show(item_id)} is not a document id followed by sc<digit> or qa<digit>"
        )
    return item_id[-3:-1]


# ----------------------------------------------------------------- messages


def _one_line(text: str) -> str:
    """Collapse line breaks: CLIs print a DataError as exactly one line."""
    return " ".join(text.splitlines())


def _show(value: Any) -> str:
    """A short, quoted, single-line rendering of a value for a message."""
    text = repr(value)
    if len(text) > _MAX_SHOWN:
        text = text[: _MAX_SHOWN - 3] + "..."
    return text


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _fail(path: Path, message: str) -> DataError:
    return DataError(_one_line(f"{path}: {message}"))


def _where(row_label: str, item_id: Any = None) -> str:
    """``row 12 (id '...qa0')``: the location part of a message."""
    if isinstance(item_id, str):
        return f"{row_label} (id {_show(item_id)})"
    return row_label


# ----------------------------------------------------------------- raw readers


def _require_file(path: Path) -> None:
    if not path.is_file():
        raise _fail(path, "file not found")


def _read_parquet(
    path: Path, required: Sequence[str], optional: Sequence[str] = ()
) -> tuple[int, dict[str, list[Any]]]:
    """Read the named columns of a parquet file as Python lists.

    Returns the row count and ``{column: values}``; a missing required column or an
    unreadable (truncated, corrupt) file is a ``DataError`` naming the file.
    """
    _require_file(path)
    try:
        with pq.ParquetFile(path) as pf:
            present = list(pf.schema_arrow.names)
            _check_columns(path, present, required)
            wanted = [c for c in dict.fromkeys((*required, *optional)) if c in present]
            table = pf.read(columns=wanted)
    except (pa.ArrowException, OSError) as exc:
        raise _fail(path, f"cannot read parquet file ({type(exc).__name__}: {exc})") from exc
    return table.num_rows, {c: table.column(c).to_pylist() for c in wanted}


def _check_columns(
    path: Path, present: Sequence[str], required: Sequence[str], where: str = ""
) -> None:
    """Name the first missing column and list the expected and the found ones."""
    for column in required:
        if column not in present:
            prefix = f"{where}: field" if where else "column"
            found = ", ".join(map(str, present)) or "none"
            raise _fail(
                path,
                f"{prefix} '{column}' is missing (expected columns: "
                f"{', '.join(required)}; found: {found})",
            )


def _decode_utf8(path: Path) -> str:
    """Decode a text file as UTF-8, naming the line of the first bad byte."""
    _require_file(path)
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise _fail(path, f"line {line}: not valid UTF-8 (byte {exc.start})") from exc
    return text.removeprefix("\ufeff")


def _jsonl_records(path: Path, text: str) -> list[tuple[int, dict[str, Any]]]:
    """Parse one JSON object per non-blank line; returns ``(line number, record)``."""
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise _fail(path, f"line {number}: not valid JSON ({exc.msg})") from exc
        if not isinstance(record, dict):
            raise _fail(path, f"line {number}: expected a JSON object, got {_type_name(record)}")
        records.append((number, record))
    return records


def _whole_json(text: str) -> Any:
    """The file parsed as one JSON value, or ``None`` when it is not (jsonl)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return None


def _is_column_form(value: Any) -> bool:
    """True for ``df.to_json()`` or ``{"col": [...]}``: all values dicts or lists."""
    return (
        isinstance(value, dict)
        and bool(value)
        and all(isinstance(v, (dict, list)) for v in value.values())
    )


def _column_form_rows(path: Path, data: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Turn the pre-2025 column-oriented JSON into ``(row label, record)`` pairs."""
    _check_columns(path, list(data), ITEM_COLUMNS)
    columns = {c: data[c] for c in ITEM_COLUMNS}
    if all(isinstance(v, list) for v in columns.values()):
        length = len(columns["id"])
        for name, values in columns.items():
            if len(values) != length:
                raise _fail(
                    path,
                    f"column '{name}' has {len(values)} values but column 'id' has {length}",
                )
        return [(f"row {i + 1}", {c: columns[c][i] for c in ITEM_COLUMNS}) for i in range(length)]
    if not all(isinstance(v, dict) for v in columns.values()):
        raise _fail(path, "column-oriented JSON mixes lists and objects across columns")
    rows = []
    for i, key in enumerate(columns["id"], start=1):
        record = {}
        for name, values in columns.items():
            if key not in values:
                raise _fail(path, f"row {i} (index {_show(key)}): field '{name}' is missing")
            record[name] = values[key]
        rows.append((f"row {i}", record))
    return rows


def _item_rows_from_json(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """Rows of a jsonl/json items file, whichever of the three forms it is in."""
    text = _decode_utf8(path)
    whole = _whole_json(text)
    if _is_column_form(whole):
        return _column_form_rows(path, whole)
    if isinstance(whole, list) and all(isinstance(r, dict) for r in whole):
        rows = [(f"row {i}", r) for i, r in enumerate(whole, start=1)]
    else:
        rows = [(f"line {n}", r) for n, r in _jsonl_records(path, text)]
    for label, record in rows:
        _check_columns(path, list(record), ITEM_COLUMNS, where=label)
    return rows


def _item_rows_from_parquet(path: Path) -> list[tuple[str, dict[str, Any]]]:
    count, columns = _read_parquet(path, ITEM_COLUMNS)
    return [(f"row {i + 1}", {c: columns[c][i] for c in ITEM_COLUMNS}) for i in range(count)]


# ----------------------------------------------------------------- LUME items


def _validate_item(
    path: Path, label: str, record: dict[str, Any], expected_split: str | None
) -> Item:
    """One row to an ``Item``, or the first thing wrong with it."""
    item_id = record["id"]
    for name in ITEM_COLUMNS:
        value = record[name]
        if not isinstance(value, str):
            raise _fail(
                path,
                f"{_where(label, item_id)}: field '{name}' has type "
                f"{_type_name(value)}, expected str",
            )
    where = _where(label, item_id)
    try:
        item_kind(item_id)
    except ValueError as exc:
        raise _fail(
            path,
            f"{where}: field 'id' must be a document id followed by sc<digit> or qa<digit>",
        ) from exc
    if not record["input"]:
        raise _fail(path, f"{where}: field 'input' is empty")
    if not record["output"].strip():
        raise _fail(path, f"{where}: field 'output' is empty")
    if record["task"] not in TASKS:
        raise _fail(
            path,
            f"{where}: field 'task' is {_show(record['task'])}, expected one of {', '.join(TASKS)}",
        )
    if record["split"] not in SPLITS:
        raise _fail(
            path,
            f"{where}: field 'split' is {_show(record['split'])}, "
            f"expected one of {', '.join(SPLITS)}",
        )
    if expected_split is not None and record["split"] != expected_split:
        raise _fail(
            path,
            f"{where}: field 'split' is {_show(record['split'])} in a {expected_split} file",
        )
    return Item(*(record[c] for c in ITEM_COLUMNS))


def load_items(path: str | os.PathLike[str], expected_split: str | None = None) -> list[Item]:
    """Load and validate one LUME split file (``.parquet``, ``.jsonl`` or ``.json``).

    JSON files may be records (one object per line), a JSON array of records, or the
    column-oriented single object the official README produced before January 2025
    (``df.to_json()``); the form is detected. Extra columns are ignored.
    """
    path = Path(path)
    if expected_split is not None and expected_split not in SPLITS:
        raise ValueError(f"expected_split must be one of {SPLITS}, got {expected_split!r}")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        rows = _item_rows_from_parquet(path)
    elif suffix in (".jsonl", ".json"):
        rows = _item_rows_from_json(path)
    else:
        _require_file(path)
        raise _fail(path, "unsupported file type (expected .parquet or .jsonl)")
    if not rows:
        raise _fail(path, "no items (the file is empty)")
    items: list[Item] = []
    first_seen: dict[str, str] = {}
    for label, record in rows:
        item = _validate_item(path, label, record, expected_split)
        if item.id in first_seen:
            raise _fail(
                path,
                f"{_where(label, item.id)}: field 'id' duplicates {first_seen[item.id]}",
            )
        first_seen[item.id] = label
        items.append(item)
    return items


def _hub_name(split: str, fold: str) -> str:
    return f"{split}_{fold}-00000-of-00001.parquet"


def _hub_layout(data_dir: Path, fold: str) -> dict[str, Path] | None:
    for base in (data_dir, data_dir / "data"):
        found = {s: base / _hub_name(s, fold) for s in SPLITS}
        if all(p.is_file() for p in found.values()):
            return found
    return None


def _submission_layout(data_dir: Path) -> dict[str, Path] | None:
    found = {}
    for split in SPLITS:
        candidates = [data_dir / f"{split}.parquet", data_dir / f"{split}.jsonl"]
        present = [p for p in candidates if p.is_file()]
        if not present:
            return None
        found[split] = present[0]
    return found


def find_lume_files(data_dir: str | os.PathLike[str], fold: str = "validation") -> dict[str, Path]:
    """Locate the forget and retain files of a LUME directory.

    Tried in order: the hub layout (``{split}_{fold}-00000-of-00001.parquet`` in
    ``data_dir`` or ``data_dir/data``), then the submission layout
    (``forget.parquet|jsonl`` + ``retain.parquet|jsonl``, parquet preferred; ``fold``
    does not apply to it). Both files must be found in the same layout.
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise _fail(data_dir, "directory not found")
    found = _hub_layout(data_dir, fold) or _submission_layout(data_dir)
    if found is None:
        hub = " + ".join(_hub_name(s, fold) for s in SPLITS)
        raise _fail(
            data_dir,
            f"no LUME forget/retain files found; looked for {hub} "
            "(here or under data/), then forget.parquet|forget.jsonl + "
            "retain.parquet|retain.jsonl",
        )
    return found


def load_lume(data_dir: str | os.PathLike[str], fold: str = "validation") -> dict[str, list[Item]]:
    """Load both splits of a LUME directory; an id in both of them is an error.

    The overlap check matters because an item cannot be both forgotten and retained:
    the score would reward and punish the same memory.
    """
    files = find_lume_files(data_dir, fold)
    loaded = {split: load_items(files[split], expected_split=split) for split in SPLITS}
    forget_rows = {item.id: i for i, item in enumerate(loaded["forget"], start=1)}
    for i, item in enumerate(loaded["retain"], start=1):
        if item.id in forget_rows:
            raise _fail(
                files["retain"],
                f"{_where(f'row {i}', item.id)}: field 'id' is also "
                f"in {files['forget']} (row {forget_rows[item.id]})",
            )
    return loaded


# ----------------------------------------------------------------- MIA


def _mia_document(path: Path, number: int, record: dict[str, Any]) -> MiaDocument:
    label = f"line {number}"
    raw_id = record.get("id", str(number))
    if isinstance(raw_id, int) and not isinstance(raw_id, bool):
        raw_id = str(raw_id)
    if not isinstance(raw_id, str):
        raise _fail(
            path,
            f"{label}: field 'id' has type {_type_name(raw_id)}, expected str or int",
        )
    where = _where(label, raw_id)
    if "document" not in record:
        raise _fail(path, f"{where}: field 'document' is missing")
    document = record["document"]
    if not isinstance(document, str):
        raise _fail(
            path,
            f"{where}: field 'document' has type {_type_name(document)}, expected str",
        )
    if not document.strip():
        raise _fail(path, f"{where}: field 'document' is empty")
    return MiaDocument(id=raw_id, document=document)


def _load_mia_file(path: Path) -> list[MiaDocument]:
    records = _jsonl_records(path, _decode_utf8(path))
    if not records:
        raise _fail(path, "no documents (the file is empty)")
    docs: list[MiaDocument] = []
    first_seen: dict[str, int] = {}
    for number, record in records:
        doc = _mia_document(path, number, record)
        if doc.id in first_seen:
            raise _fail(
                path,
                f"{_where(f'line {number}', doc.id)}: field 'id' duplicates "
                f"line {first_seen[doc.id]}",
            )
        first_seen[doc.id] = number
        docs.append(doc)
    return docs


def load_mia(mia_dir: str | os.PathLike[str]) -> dict[str, list[MiaDocument]]:
    """Load ``member.jsonl`` + ``nonmember.jsonl`` from ``mia_dir`` or ``mia_data/``."""
    mia_dir = Path(mia_dir)
    for base in (mia_dir, mia_dir / "mia_data"):
        paths = {name: base / f"{name}.jsonl" for name in MIA_SETS}
        if all(p.is_file() for p in paths.values()):
            return {name: _load_mia_file(p) for name, p in paths.items()}
    raise _fail(
        mia_dir,
        "MIA files not found; looked for member.jsonl + nonmember.jsonl here and under mia_data/",
    )


# ----------------------------------------------------------------- MMLU


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
        raise _fail(
            path,
            f"{label}: field 'question' has type {_type_name(question)}, expected str",
        )
    if not isinstance(choices, (list, tuple)) or len(choices) != 4:
        count = len(choices) if isinstance(choices, (list, tuple)) else _type_name(choices)
        raise _fail(path, f"{label}: field 'choices' has {count} choices, expected 4")
    for choice in choices:
        if not isinstance(choice, str):
            raise _fail(
                path,
                f"{label}: field 'choices' holds a {_type_name(choice)}, expected str",
            )
    parsed = _parse_answer(answer)
    if parsed is None:
        raise _fail(
            path,
            f"{label}: field 'answer' is {_show(answer)}, expected A, B, C, D or 0..3",
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
    reader = csv.reader(io.StringIO(_decode_utf8(path), newline=""))
    questions = []
    number = 0
    try:
        for number, row in enumerate(reader, start=1):
            if not row:
                continue
            label = f"row {number}"
            if len(row) != 6:
                raise _fail(
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
        raise _fail(path, f"row {number + 1}: not valid CSV ({exc})") from exc
    return questions


def _read_mmlu_parquet(path: Path, dir_subject: str | None) -> list[MmluQuestion]:
    """Hub layout; the subject is the column's, or the directory's when empty."""
    required = ("question", "choices", "answer") + (("subject",) if dir_subject is None else ())
    count, columns = _read_parquet(path, required, optional=("subject",))
    subjects = columns.get("subject", [None] * count)
    questions = []
    for i in range(count):
        label = f"row {i + 1}"
        subject = subjects[i] if isinstance(subjects[i], str) and subjects[i] else dir_subject
        if subject is None:
            raise _fail(path, f"{label}: field 'subject' is empty")
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
        raise _fail(mmlu_dir, "directory not found")
    root = _csv_root(mmlu_dir)
    result = _load_mmlu_csv(root) if root is not None else _load_mmlu_parquet(mmlu_dir)
    if not result["test"]:
        raise _fail(
            mmlu_dir,
            "no MMLU test questions found; looked for "
            "[data/]test/<subject>_test.csv and <subject>/test-*.parquet",
        )
    return result


# ----------------------------------------------------------------- writers


def _atomic_write(path: str | os.PathLike[str], write: Callable[[Path], None]) -> None:
    """Write to a temp file in the same directory, then rename over the target.

    A reader never sees a half-written file, and an interrupted generator leaves
    the previous file intact. The temp file is created with ``open`` (not mkstemp)
    so it gets the usual umask permissions rather than 0600.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` so that a reader sees the old file or the whole new one."""
    _atomic_write(path, lambda tmp: tmp.write_bytes(data))


def _write_parquet(path: str | os.PathLike[str], table: pa.Table) -> None:
    """Deterministic parquet: no pandas or schema metadata, fixed compression."""
    table = table.replace_schema_metadata(None)

    def write(tmp: Path) -> None:
        pq.write_table(table, tmp, compression="snappy", store_schema=False)

    _atomic_write(path, write)


def _write_jsonl(path: str | os.PathLike[str], records: Iterable[dict[str, Any]]) -> None:
    data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8")
    write_bytes_atomic(path, data)


_ITEMS_SCHEMA = pa.schema([(c, pa.string()) for c in ITEM_COLUMNS])


def write_items_parquet(path: str | os.PathLike[str], items: Sequence[Item]) -> None:
    """Write items as string columns id, input, output, task, split (unvalidated)."""
    columns = {c: [getattr(item, c) for item in items] for c in ITEM_COLUMNS}
    _write_parquet(path, pa.table(columns, schema=_ITEMS_SCHEMA))


def write_items_jsonl(path: str | os.PathLike[str], items: Sequence[Item]) -> None:
    """Write items as records, one per line, keys in column order, UTF-8 kept as is."""
    _write_jsonl(path, ({c: getattr(item, c) for c in ITEM_COLUMNS} for item in items))


def write_mia_jsonl(path: str | os.PathLike[str], docs: Sequence[MiaDocument]) -> None:
    """Write MIA documents as ``{"id": ..., "document": ...}`` records."""
    _write_jsonl(path, ({"id": d.id, "document": d.document} for d in docs))


_MMLU_SCHEMA = pa.schema(
    [
        ("question", pa.string()),
        ("subject", pa.string()),
        ("choices", pa.list_(pa.string())),
        ("answer", pa.int64()),
    ]
)


def write_mmlu_parquet(
    mmlu_dir: str | os.PathLike[str],
    split: str,
    subject: str,
    questions: Sequence[MmluQuestion],
) -> None:
    """Write ``<mmlu_dir>/<subject>/<split>-00000-of-00001.parquet``, cais columns."""
    columns = {
        "question": [q.question for q in questions],
        "subject": [subject for _ in questions],
        "choices": [list(q.choices) for q in questions],
        "answer": [q.answer for q in questions],
    }
    path = Path(mmlu_dir) / subject / f"{split}-00000-of-00001.parquet"
    _write_parquet(path, pa.table(columns, schema=_MMLU_SCHEMA))
