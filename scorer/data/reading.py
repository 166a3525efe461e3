"""What every loader shares: messages that name the file, row and field; raw file readers.

A ``DataError`` says where the problem is in one line (file, row, field) because a
participant must be able to fix their data from the message alone.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from scorer.errors import DataError

MAX_SHOWN = 80  # characters of an offending value quoted in a message


def one_line(text: str) -> str:
    """Collapse line breaks: CLIs print a DataError as exactly one line."""
    return " ".join(text.splitlines())


def show(value: Any) -> str:
    """A short, quoted, single-line rendering of a value for a message."""
    text = repr(value)
    if len(text) > MAX_SHOWN:
        text = text[: MAX_SHOWN - 3] + "..."
    return text


def type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def fail(path: Path, message: str) -> DataError:
    return DataError(one_line(f"{path}: {message}"))


def location(row_label: str, item_id: Any = None) -> str:
    """``row 12 (id '...qa0')``: the location part of a message."""
    if isinstance(item_id, str):
        return f"{row_label} (id {show(item_id)})"
    return row_label


def require_file(path: Path) -> None:
    if not path.is_file():
        raise fail(path, "file not found")


def read_parquet(
    path: Path, required: Sequence[str], optional: Sequence[str] = ()
) -> tuple[int, dict[str, list[Any]]]:
    """Read the named columns of a parquet file as Python lists.

    Returns the row count and ``{column: values}``; a missing required column or an
    unreadable (truncated, corrupt) file is a ``DataError`` naming the file.
    """
    require_file(path)
    try:
        with pq.ParquetFile(path) as pf:
            present = list(pf.schema_arrow.names)
            check_columns(path, present, required)
            wanted = [c for c in dict.fromkeys((*required, *optional)) if c in present]
            table = pf.read(columns=wanted)
    except (pa.ArrowException, OSError) as exc:
        raise fail(path, f"cannot read parquet file ({type(exc).__name__}: {exc})") from exc
    columns = {}
    for column in wanted:
        try:
            columns[column] = table.column(column).to_pylist()
        except UnicodeDecodeError as exc:  # parquet does not check that strings are UTF-8
            raise fail(path, _first_bad_utf8(table.column(column), column)) from exc
    return table.num_rows, columns


def _first_bad_utf8(column: pa.ChunkedArray, name: str) -> str:
    """Where a string column holds bytes that are not UTF-8: ``row 3: field 'input' ...``."""
    for row in range(len(column)):
        try:
            column[row].as_py()
        except UnicodeDecodeError as exc:
            return f"row {row + 1}: field '{name}' is not valid UTF-8 (byte {exc.start})"
    return f"field '{name}' is not valid UTF-8"


def check_text(path: Path, where: str, name: str, value: str) -> None:
    """Refuse a string that is not Unicode text: a lone surrogate (a JSON escape such as
    ``\\ud800``) loads into Python but cannot be encoded, so a tokenizer would fail on it
    long after loading; here it is named by file, row and field."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        code = f"\\u{ord(value[exc.start]):04x}"
        raise fail(
            path,
            f"{where}: field '{name}' holds a lone surrogate ({code}) at character "
            f"{exc.start}: not valid Unicode text",
        ) from None


def check_columns(
    path: Path, present: Sequence[str], required: Sequence[str], where: str = ""
) -> None:
    """Name the first missing column and list the expected and the found ones."""
    for column in required:
        if column not in present:
            prefix = f"{where}: field" if where else "column"
            found = ", ".join(map(str, present)) or "none"
            raise fail(
                path,
                f"{prefix} '{column}' is missing (expected columns: "
                f"{', '.join(required)}; found: {found})",
            )


def decode_utf8(path: Path) -> str:
    """Decode a text file as UTF-8, naming the line of the first bad byte."""
    require_file(path)
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise fail(path, f"line {line}: not valid UTF-8 (byte {exc.start})") from exc
    return text.removeprefix("\ufeff")


def jsonl_records(path: Path, text: str) -> list[tuple[int, dict[str, Any]]]:
    """Parse one JSON object per non-blank line; returns ``(line number, record)``."""
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise fail(path, f"line {number}: not valid JSON ({exc.msg})") from exc
        if not isinstance(record, dict):
            raise fail(path, f"line {number}: expected a JSON object, got {type_name(record)}")
        records.append((number, record))
    return records


def is_finite_number(value: object) -> bool:
    """A JSON number that is a real, finite value (``true`` is not a number here)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def read_json_object(path: Path) -> dict:
    """A JSON file holding one object; anything else is a one-line error naming the file."""
    text = decode_utf8(path)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise fail(path, f"not valid JSON (line {err.lineno}: {err.msg})") from None
    if not isinstance(value, dict):
        raise fail(path, f"expected a JSON object, got {type_name(value)}")
    return value
