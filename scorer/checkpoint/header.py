"""Safetensors headers read without the data: each tensor's dtype, shape and byte range.

Refuses what the safetensors library refuses (a header length past the end, a header that
is not a JSON object, byte ranges that do not tile the data exactly), as a
:class:`HeaderError` whose ``rule`` is the validation rule id.
"""

from __future__ import annotations

import json
import math
import os
import struct
from dataclasses import dataclass
from pathlib import Path

from scorer.checkpoint.reading import open_regular

DTYPE_BYTES = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1,
    "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
    "I32": 4, "U32": 4, "F32": 4,
    "I64": 8, "U64": 8, "F64": 8,
}  # fmt: skip
FLOAT_DTYPES = frozenset({"F16", "BF16", "F32", "F64"})  # what a floating tensor may be stored in
MAX_HEADER_BYTES = 100_000_000  # the safetensors library refuses larger headers
LENGTH_BYTES = 8  # the header's length, little-endian u64, opens the file


@dataclass(frozen=True)
class TensorInfo:
    """One tensor as its header entry describes it."""

    dtype: str
    shape: tuple[int, ...]
    start: int  # absolute byte offsets in the file
    end: int


class HeaderError(Exception):
    """A safetensors file the loader would refuse; ``rule`` says how."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule


def read_header(
    path: Path, max_bytes: int = MAX_HEADER_BYTES, max_tensors: int | None = None
) -> dict[str, TensorInfo]:
    """Tensor name → dtype, shape and absolute byte range, read from the header only.

    Only the header is read, so a checkpoint of any size is described in constant memory;
    a header over ``max_bytes`` is never read, one of more than ``max_tensors`` entries
    never parsed further (``too-many-tensors``).
    """
    fd = open_regular(path)
    with os.fdopen(fd, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        length = header_length(path.name, handle.read(LENGTH_BYTES), size)
        if length > max_bytes:
            raise HeaderError(
                "too-many-tensors",
                f"{path.name}: header of {length} bytes, more than the {max_bytes} allowed",
            )
        raw = handle.read(length)
    if len(raw) < length:  # the file shrank since it was measured
        raise HeaderError("truncated", _past_the_end(path.name, length, size))
    if max_tensors is not None and raw.count(b'"data_offsets"') > max_tensors:
        raise HeaderError(
            "too-many-tensors", f"{path.name}: more than {max_tensors} tensors in its header"
        )
    return parse_header(path.name, raw, size)


def header_length(file: str, prefix: bytes, size: int) -> int:
    """The header length the first 8 bytes state, if a file of ``size`` bytes can hold it."""
    if size == 0:
        raise HeaderError("empty", f"{file} is empty (0 bytes)")
    if size < LENGTH_BYTES:
        raise HeaderError("truncated", f"{file} is {size} bytes, shorter than a header")
    (length,) = struct.unpack("<Q", prefix)
    if length > MAX_HEADER_BYTES:
        raise HeaderError("not-safetensors", f"{file}: header length {length} too large")
    if LENGTH_BYTES + length > size:
        raise HeaderError("truncated", _past_the_end(file, length, size))
    return length


def parse_header(file: str, raw: bytes, size: int) -> dict[str, TensorInfo]:
    """The tensors described by the JSON header ``raw`` of a ``size``-byte file.

    Pure: the data is never looked at, but its byte ranges must tile it exactly, as the
    safetensors library demands, so that a later scan reads every byte once.
    """
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise HeaderError("not-safetensors", f"{file}: header is not JSON") from None
    if not isinstance(header, dict):
        raise HeaderError("not-safetensors", f"{file}: header is not a JSON object")
    base = LENGTH_BYTES + len(raw)
    tensors = {name: _tensor_info(file, name, entry, base) for name, entry in header.items()}
    tensors.pop("__metadata__", None)
    _check_tiling(file, tensors, base, size)
    return tensors


def library_accepts(path: Path) -> None:
    """A second opinion: the safetensors library itself parses the header (no data read)."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            handle.keys()
    except Exception as err:  # the library's own errors are not a documented family
        raise HeaderError("not-safetensors", f"{path.name}: {err}") from None


def _past_the_end(file: str, length: int, size: int) -> str:
    return f"{file}: header of {length} bytes runs past the end ({size})"


def _tensor_info(file: str, name: str, entry: object, base: int) -> TensorInfo | None:
    if name == "__metadata__":
        if entry is not None and not isinstance(entry, dict):
            raise HeaderError("not-safetensors", f"{file}: __metadata__ is not an object")
        return None
    bad = HeaderError("not-safetensors", f"{file}: tensor {name!r} has a malformed header entry")
    if not isinstance(entry, dict):
        raise bad
    dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
    if (
        not isinstance(dtype, str)
        or dtype not in DTYPE_BYTES
        or not isinstance(shape, list)
        or not all(_is_count(d) for d in shape)
        or not isinstance(offsets, list)
        or len(offsets) != 2
        or not all(_is_count(o) for o in offsets)
        or offsets[1] < offsets[0]
    ):
        raise bad
    if (offsets[1] - offsets[0]) != math.prod(shape) * DTYPE_BYTES[dtype]:
        raise HeaderError(
            "not-safetensors",
            f"{file}: tensor {name!r} of shape {shape} {dtype} does not fit its byte range",
        )
    return TensorInfo(dtype, tuple(shape), base + offsets[0], base + offsets[1])


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _check_tiling(file: str, tensors: dict[str, TensorInfo], base: int, size: int) -> None:
    position = base
    for name, info in sorted(tensors.items(), key=lambda kv: (kv[1].start, kv[1].end)):
        if info.start != position:
            raise HeaderError(
                "not-safetensors", f"{file}: tensor {name!r} leaves a gap or overlaps another"
            )
        position = info.end
    if position > size:
        raise HeaderError(
            "truncated", f"{file}: data ends at byte {position} but the file has {size} bytes"
        )
    if position < size:
        raise HeaderError("not-safetensors", f"{file}: {size - position} bytes after the data")
