"""The MIA member / nonmember sets (``member.jsonl``, ``nonmember.jsonl``), validated."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from scorer.data.reading import check_text, decode_utf8, fail, jsonl_records, location, type_name
from scorer.data.records import MIA_SETS, MiaDocument


def _mia_document(path: Path, number: int, record: dict[str, Any]) -> MiaDocument:
    label = f"line {number}"
    raw_id = record.get("id", str(number))
    if isinstance(raw_id, int) and not isinstance(raw_id, bool):
        raw_id = str(raw_id)
    if not isinstance(raw_id, str):
        raise fail(
            path,
            f"{label}: field 'id' has type {type_name(raw_id)}, expected str or int",
        )
    where = location(label, raw_id)
    if "document" not in record:
        raise fail(path, f"{where}: field 'document' is missing")
    document = record["document"]
    if not isinstance(document, str):
        raise fail(
            path,
            f"{where}: field 'document' has type {type_name(document)}, expected str",
        )
    check_text(path, where, "id", raw_id)
    check_text(path, where, "document", document)
    if not document.strip():
        raise fail(path, f"{where}: field 'document' is empty")
    return MiaDocument(id=raw_id, document=document)


def _load_mia_file(path: Path) -> list[MiaDocument]:
    records = jsonl_records(path, decode_utf8(path))
    if not records:
        raise fail(path, "no documents (the file is empty)")
    docs: list[MiaDocument] = []
    first_seen: dict[str, int] = {}
    for number, record in records:
        doc = _mia_document(path, number, record)
        if doc.id in first_seen:
            raise fail(
                path,
                f"{location(f'line {number}', doc.id)}: field 'id' duplicates "
                f"line {first_seen[doc.id]}",
            )
        first_seen[doc.id] = number
        docs.append(doc)
    return docs


def find_mia_files(mia_dir: str | os.PathLike[str]) -> dict[str, Path]:
    """``member.jsonl`` + ``nonmember.jsonl`` in ``mia_dir`` or ``mia_dir/mia_data``."""
    mia_dir = Path(mia_dir)
    for base in (mia_dir, mia_dir / "mia_data"):
        paths = {name: base / f"{name}.jsonl" for name in MIA_SETS}
        if all(p.is_file() for p in paths.values()):
            return paths
    raise fail(
        mia_dir,
        "MIA files not found; looked for member.jsonl + nonmember.jsonl here and under mia_data/",
    )


def load_mia(mia_dir: str | os.PathLike[str]) -> dict[str, list[MiaDocument]]:
    """Load ``member.jsonl`` + ``nonmember.jsonl`` from ``mia_dir`` or ``mia_data/``."""
    return {name: _load_mia_file(path) for name, path in find_mia_files(mia_dir).items()}
