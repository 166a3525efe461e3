"""Size limits of a checkpoint: given, or derived from the reference target's sizes."""

from __future__ import annotations

from dataclasses import dataclass

from scorer.checkpoint.reference import Reference

MiB = 1 << 20
WEIGHT_SUFFIX = ".safetensors"


@dataclass(frozen=True)
class Limits:
    """Size limits; ``None`` derives one from the reference.

    Default total: ``weight_factor`` × the reference's weight bytes (2.2: fp32 weights of a
    bf16 reference pass) + its other files + ``other_slack_bytes``. A weight file may be at
    most the total; any other file at most the reference's file of that name (0 if none)
    + ``other_slack_bytes``. Files over a limit are not read. ``chunk_bytes`` bounds the
    memory of the finiteness scan.
    """

    total_bytes: int | None = None
    weight_file_bytes: int | None = None
    other_file_bytes: int | None = None
    weight_factor: float = 2.2
    other_slack_bytes: int = 4 * MiB
    chunk_bytes: int = 16 * MiB
    max_tensors: int | None = None  # per weight file; None: 2 x the reference's + 16
    header_bytes_per_tensor: int = 1024  # a header entry is ~150 bytes; the header's cap


def tensor_limit(reference: Reference, limits: Limits) -> int:
    """The most tensors one weight file may describe; a header describing more is refused
    before it is parsed (a flood of empty tensors costs the judge memory and time)."""
    if limits.max_tensors is not None:
        return limits.max_tensors
    return 2 * len(reference.tensors) + 16


def header_byte_limit(reference: Reference, limits: Limits) -> int:
    """The most bytes a weight file's header may take: room for :func:`tensor_limit`
    entries (and their metadata), far below the safetensors library's 100 MB."""
    return tensor_limit(reference, limits) * limits.header_bytes_per_tensor + 64 * 1024


def total_limit(reference: Reference, limits: Limits) -> int:
    """The most bytes the whole checkpoint may hold; over it, no value is scanned."""
    if limits.total_bytes is not None:
        return limits.total_bytes
    other = sum(s for n, s in reference.files.items() if not n.endswith(WEIGHT_SUFFIX))
    return int(limits.weight_factor * reference.weight_bytes) + other + limits.other_slack_bytes


def file_limit(name: str, reference: Reference, limits: Limits) -> int:
    """The most bytes file ``name`` may hold; a file over it is never opened."""
    if name.endswith(WEIGHT_SUFFIX):
        if limits.weight_file_bytes is not None:
            return limits.weight_file_bytes
        return total_limit(reference, limits)
    if limits.other_file_bytes is not None:
        return limits.other_file_bytes
    return reference.files.get(name, 0) + limits.other_slack_bytes
