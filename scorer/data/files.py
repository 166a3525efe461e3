"""Atomic, byte-reproducible writers: a reader sees the old file or the whole new one.

Identical input gives identical bytes, so generated datasets are reproducible and
checksummable.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from scorer.data.records import ITEM_COLUMNS, Item, MiaDocument, MmluQuestion


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
