"""LUME splits: the hub layout and the submission layout, parquet or jsonl, validated.

JSON files may be records (one object per line), a JSON array of records, or the
column-oriented single object the official README produced before January 2025.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from scorer.contract import SPLITS, TASKS, split_files
from scorer.data.reading import (
    check_columns,
    check_text,
    decode_utf8,
    fail,
    jsonl_records,
    location,
    read_parquet,
    require_file,
    show,
    type_name,
)
from scorer.data.records import ITEM_COLUMNS, Item, item_kind


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
    check_columns(path, list(data), ITEM_COLUMNS)
    columns = {c: data[c] for c in ITEM_COLUMNS}
    if all(isinstance(v, list) for v in columns.values()):
        length = len(columns["id"])
        for name, values in columns.items():
            if len(values) != length:
                raise fail(
                    path,
                    f"column '{name}' has {len(values)} values but column 'id' has {length}",
                )
        return [(f"row {i + 1}", {c: columns[c][i] for c in ITEM_COLUMNS}) for i in range(length)]
    if not all(isinstance(v, dict) for v in columns.values()):
        raise fail(path, "column-oriented JSON mixes lists and objects across columns")
    rows = []
    for i, key in enumerate(columns["id"], start=1):
        record = {}
        for name, values in columns.items():
            if key not in values:
                raise fail(path, f"row {i} (index {show(key)}): field '{name}' is missing")
            record[name] = values[key]
        rows.append((f"row {i}", record))
    return rows


def _item_rows_from_json(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """Rows of a jsonl/json items file, whichever of the three forms it is in."""
    text = decode_utf8(path)
    whole = _whole_json(text)
    if _is_column_form(whole):
        return _column_form_rows(path, whole)
    if isinstance(whole, list) and all(isinstance(r, dict) for r in whole):
        rows = [(f"row {i}", r) for i, r in enumerate(whole, start=1)]
    else:
        rows = [(f"line {n}", r) for n, r in jsonl_records(path, text)]
    for label, record in rows:
        check_columns(path, list(record), ITEM_COLUMNS, where=label)
    return rows


def _item_rows_from_parquet(path: Path) -> list[tuple[str, dict[str, Any]]]:
    count, columns = read_parquet(path, ITEM_COLUMNS)
    return [(f"row {i + 1}", {c: columns[c][i] for c in ITEM_COLUMNS}) for i in range(count)]


def _validate_item(
    path: Path, label: str, record: dict[str, Any], expected_split: str | None
) -> Item:
    """One row to an ``Item``, or the first thing wrong with it."""
    item_id = record["id"]
    for name in ITEM_COLUMNS:
        value = record[name]
        if not isinstance(value, str):
            raise fail(
                path,
                f"{location(label, item_id)}: field '{name}' has type "
                f"{type_name(value)}, expected str",
            )
    where = location(label, item_id)
    for name in ITEM_COLUMNS:
        check_text(path, where, name, record[name])
    try:
        item_kind(item_id)
    except ValueError as exc:
        raise fail(
            path,
            f"{where}: field 'id' must be a document id followed by sc<digit> or qa<digit>",
        ) from exc
    if not record["input"]:
        raise fail(path, f"{where}: field 'input' is empty")
    if not record["output"].strip():
        raise fail(path, f"{where}: field 'output' is empty")
    if record["task"] not in TASKS:
        raise fail(
            path,
            f"{where}: field 'task' is {show(record['task'])}, expected one of {', '.join(TASKS)}",
        )
    if record["split"] not in SPLITS:
        raise fail(
            path,
            f"{where}: field 'split' is {show(record['split'])}, "
            f"expected one of {', '.join(SPLITS)}",
        )
    if expected_split is not None and record["split"] != expected_split:
        raise fail(
            path,
            f"{where}: field 'split' is {show(record['split'])} in a {expected_split} file",
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
        require_file(path)
        raise fail(path, "unsupported file type (expected .parquet or .jsonl)")
    if not rows:
        raise fail(path, "no items (the file is empty)")
    items: list[Item] = []
    first_seen: dict[str, str] = {}
    for label, record in rows:
        item = _validate_item(path, label, record, expected_split)
        if item.id in first_seen:
            raise fail(
                path,
                f"{location(label, item.id)}: field 'id' duplicates {first_seen[item.id]}",
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
        present = [p for p in split_files(data_dir, split) if p.is_file()]
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
        raise fail(data_dir, "directory not found")
    found = _hub_layout(data_dir, fold) or _submission_layout(data_dir)
    if found is None:
        hub = " + ".join(_hub_name(s, fold) for s in SPLITS)
        raise fail(
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
            raise fail(
                files["retain"],
                f"{location(f'row {i}', item.id)}: field 'id' is also "
                f"in {files['forget']} (row {forget_rows[item.id]})",
            )
    return loaded
