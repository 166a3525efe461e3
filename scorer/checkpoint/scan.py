"""The finiteness scan: every floating value of a safetensors file, streamed in bounded chunks.

Plain reads into one reusable buffer (not mmap) keep the file out of the process's resident
memory, so peak memory is one chunk whatever the checkpoint's size.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from scorer.checkpoint.header import DTYPE_BYTES, HeaderError, TensorInfo
from scorer.checkpoint.reading import open_regular

if TYPE_CHECKING:
    import torch

ALIGNMENT = 8  # chunks hold whole values of every dtype
# What the scorer loads weights in, unless told float16: bf16 on GPU, fp32 on CPU.
DEFAULT_SCORING_DTYPES = ("bfloat16", "float32")


@dataclass(frozen=True)
class NonFinite:
    """How many NaN and Inf values a tensor holds, and where the first one is."""

    nan: int
    inf: int
    first: int  # flat element index of the first NaN or Inf


def range_limit(dtypes: Iterable[str] = DEFAULT_SCORING_DTYPES) -> float:
    """The largest magnitude every one of ``dtypes`` (torch names) holds: past it a value
    finite on disk is inf once the scorer loads it (bfloat16 ~3.39e38, float16 65504)."""
    import torch

    return min(float(torch.finfo(getattr(torch, name)).max) for name in dtypes)


def scan_finite(
    path: Path,
    tensors: dict[str, TensorInfo],
    chunk_bytes: int,
    advance: Callable[[int], None] = lambda _n: None,
    limit: float | None = None,
) -> Iterator[tuple[str, NonFinite | None]]:
    """Each floating tensor of ``path`` (in file order) and its non-finite values, if any
    (a magnitude past ``limit`` counts as inf; default: :func:`range_limit`).

    Reads ``chunk_bytes`` (rounded down to a multiple of 8, at least 8) at a time through
    one buffer and calls ``advance(n)`` after each chunk of ``n`` bytes, so a progress bar
    can follow a multi-gigabyte scan. Raises :class:`HeaderError` ``truncated`` if the file
    ends before a tensor does.
    """
    import torch

    torch_dtypes = {
        "F16": torch.float16,
        "BF16": torch.bfloat16,
        "F32": torch.float32,
        "F64": torch.float64,
    }
    chunk_bytes = max(ALIGNMENT, chunk_bytes - chunk_bytes % ALIGNMENT)
    buffer = bytearray(chunk_bytes)
    fd = open_regular(path)
    with os.fdopen(fd, "rb", buffering=0) as handle:
        for name, info in sorted(tensors.items(), key=lambda kv: kv[1].start):
            if info.dtype not in torch_dtypes or info.end == info.start:
                continue
            where = f"{path.name}: tensor {name!r}"
            chunks = _chunks(handle, buffer, info, torch_dtypes[info.dtype], where, advance)
            yield name, count_non_finite(chunks, limit)


def count_non_finite(
    chunks: Iterable[torch.Tensor], limit: float | None = None
) -> NonFinite | None:
    """The NaN and Inf values of a tensor given as consecutive flat chunks, in the dtype the
    scorer computes in: a value past ``limit`` (default: the bfloat16 range; an F64 1e300,
    an F32 3.4e38) is finite on disk but inf once loaded, and counts as inf. None if all
    are finite there.

    A chunk whose largest magnitude is within the range is clean (NaN fails the test), so
    the exact count runs on bad chunks only.
    """
    import torch

    limit = range_limit() if limit is None else limit
    nan = inf = 0
    first = -1
    done = 0  # values before this chunk
    for values in chunks:
        # compared in float32 (an F64 beyond its range becomes inf, as the loader makes it;
        # and a limit compared in float16 would itself be inf)
        values = values.to(torch.float32)
        if not bool(values.abs().max() <= limit):
            nans = torch.isnan(values)
            infs = ~nans & ~(values.abs() <= limit)
            nan += int(nans.sum())
            inf += int(infs.sum())
            if first < 0 and (nans.any() or infs.any()):
                first = done + int(torch.nonzero(nans | infs)[0, 0])
        done += values.numel()
    return NonFinite(nan, inf, first) if nan or inf else None


def index_in(shape: tuple[int, ...], flat: int) -> list[int]:
    """The position of flat (row-major) element ``flat`` in a tensor of ``shape``."""
    position = []
    for dim in reversed(shape):
        position.append(flat % dim)
        flat //= dim
    return position[::-1]


def _chunks(
    handle: BinaryIO,
    buffer: bytearray,
    info: TensorInfo,
    dtype: torch.dtype,
    where: str,
    advance: Callable[[int], None],
) -> Iterator[torch.Tensor]:
    """The tensor's values, one buffer-full at a time (each chunk is overwritten by the next)."""
    import torch

    view = memoryview(buffer)
    width = DTYPE_BYTES[info.dtype]
    handle.seek(info.start)
    done = 0
    while done < info.end - info.start:
        want = min(len(buffer), info.end - info.start - done)
        got = _read_exactly(handle, view[:want])
        if got < want:
            raise HeaderError("truncated", f"{where} ends early")
        yield torch.frombuffer(buffer, dtype=dtype, count=got // width)
        done += got
        advance(got)


def _read_exactly(handle: BinaryIO, view: memoryview) -> int:
    """Fill ``view`` unless the file ends first; the number of bytes read."""
    got = 0
    while got < len(view):
        n = handle.readinto(view[got:])
        if not n:
            break
        got += n
    return got
