"""The tensors: each in one shard, the reference's names, shapes and dtypes, every value finite."""

from __future__ import annotations

import math
from collections.abc import Callable

from scorer.checkpoint.header import (
    FLOAT_DTYPES,
    HeaderError,
    TensorInfo,
    library_accepts,
    read_header,
)
from scorer.checkpoint.limits import MiB, header_byte_limit, tensor_limit
from scorer.checkpoint.names import INDEX
from scorer.checkpoint.report import Violation
from scorer.checkpoint.rules.inspection import Inspection
from scorer.checkpoint.scan import NonFinite, index_in, range_limit, scan_finite

Headers = dict[str, dict[str, TensorInfo]]  # shard → tensor → its header entry
FLOAT_NAMES = frozenset({"float16", "bfloat16", "float32", "float64"})  # torch's names


def check_tensors(
    inspection: Inspection, shards: list[str], weight_map: dict[str, str] | None, scan: bool
) -> None:
    """Check the shards' headers against the index and the reference, then scan the values.

    Every tensor must sit in exactly one shard, the one the index names; the finiteness
    scan runs only if ``scan`` (the checkpoint is within its total size limit).
    """
    headers = _read_headers(inspection, shards)
    found: dict[str, str] = {}  # tensor → shard
    for shard, tensors in headers.items():
        for name in tensors:
            if name in found:
                inspection.add(
                    "index", shard, f"{shard}: tensor {name} is also in {found[name]}", name
                )
                continue
            found[name] = shard
            if weight_map is not None and weight_map.get(name) != shard:
                inspection.add(
                    "index",
                    shard,
                    f"{shard}: tensor {name} is in this file but {INDEX} says "
                    f"{weight_map.get(name, 'nothing')}",
                    name,
                )
    complete = bool(shards) and len(headers) == len(shards)  # else missing tensors are noise
    if weight_map is not None and complete:
        for name, shard in sorted(weight_map.items()):
            if name not in found and shard in headers:
                inspection.add(
                    "index", shard, f"{INDEX} puts tensor {name} in {shard}, absent", name
                )
    inspection.violations.extend(
        compare_tensors(headers, found, inspection.reference.tensors, complete, weight_map or {})
    )
    if scan:
        _scan(inspection, headers)


def compare_tensors(
    headers: Headers,
    found: dict[str, str],
    reference: dict[str, TensorInfo],
    complete: bool,
    weight_map: dict[str, str],
) -> list[Violation]:
    """Missing, extra, reshaped and re-typed tensors against the reference's.

    A tensor is missing only when every shard's header was read (``complete``). A floating
    tensor may be stored in any of :data:`FLOAT_DTYPES` (bf16 weights of an fp32 reference
    load the same); any other keeps the reference's dtype.
    """
    violations = []
    if complete:
        for name in sorted(reference.keys() - found.keys()):
            file = weight_map.get(name, next(iter(headers)))
            violations.append(
                Violation(
                    "missing-tensor",
                    file,
                    f"{file}: tensor {name} is missing (the reference has it)",
                    name,
                )
            )
    for name, shard in sorted(found.items()):
        ours = headers[shard][name]
        theirs = reference.get(name)
        if theirs is None:
            violations.append(
                Violation(
                    "extra-tensor", shard, f"{shard}: tensor {name} is not in the reference", name
                )
            )
            continue
        if ours.shape != theirs.shape:
            violations.append(
                Violation(
                    "shape",
                    shard,
                    f"{shard}: tensor {name} has shape {list(ours.shape)}, "
                    f"the reference {list(theirs.shape)}",
                    name,
                )
            )
        floating = theirs.dtype in FLOAT_DTYPES
        if (floating and ours.dtype not in FLOAT_DTYPES) or (
            not floating and ours.dtype != theirs.dtype
        ):
            allowed = "/".join(sorted(FLOAT_DTYPES)) if floating else theirs.dtype
            violations.append(
                Violation(
                    "dtype",
                    shard,
                    f"{shard}: tensor {name} is {ours.dtype}, expected {allowed}",
                    name,
                )
            )
    return violations


def non_finite_message(
    shard: str, name: str, shape: tuple[int, ...], bad: NonFinite, narrowest: str = "bfloat16"
) -> str:
    """How a report names a tensor's NaN/Inf values: counts, and the first one's position
    (and the dtype whose range decided, when it is float16's short one)."""
    kinds = " and ".join(
        f"{count} {label}" for count, label in ((bad.nan, "NaN"), (bad.inf, "Inf")) if count
    )
    where = f"first at {index_in(shape, bad.first)}"
    if narrowest == "float16" and bad.inf:
        where += " (scored in float16: a magnitude past 65504 is Inf)"
    return f"{shard}: tensor {name} has {kinds} value(s), {where}"


def scoring_dtypes(inspection: Inspection) -> frozenset[str]:
    """The dtypes the scorer will load the weights in: the run's, and the one config.json
    stores (MMLU loads the stored dtype, as open-instruct's ``torch_dtype="auto"``)."""
    config = inspection.config or {}
    stored = config.get("dtype") or config.get("torch_dtype")
    extra = {stored} if stored in FLOAT_NAMES else set()
    return frozenset(inspection.scoring_dtypes | extra)


def in_whole_mib(advance: Callable[[int], None]) -> Callable[[int], None]:
    """``advance`` in MiB from a count of bytes, the last partial MiB counted as one."""
    seen = 0

    def step(n: int) -> None:
        nonlocal seen
        before = math.ceil(seen / MiB)
        seen += n
        if math.ceil(seen / MiB) > before:
            advance(math.ceil(seen / MiB) - before)

    return step


def _read_headers(inspection: Inspection, shards: list[str]) -> Headers:
    """The header of each readable shard that both this parser and the library accept."""
    headers: Headers = {}
    for shard in shards:
        if not inspection.readable(shard):
            continue
        try:
            reference, limits = inspection.reference, inspection.limits
            headers[shard] = read_header(
                inspection.root / shard,
                header_byte_limit(reference, limits),
                tensor_limit(reference, limits),
            )
            library_accepts(inspection.root / shard)
        except HeaderError as err:
            inspection.add(err.rule, shard, str(err))
        except OSError as err:
            inspection.add("not-safetensors", shard, f"{shard}: {' '.join(str(err).split())}")
    return headers


def _scan(inspection: Inspection, headers: Headers) -> None:
    dtypes = scoring_dtypes(inspection)
    limit = range_limit(dtypes)
    narrowest = min(dtypes, key=lambda d: range_limit([d]))
    total = sum(
        t.end - t.start for h in headers.values() for t in h.values() if t.dtype in FLOAT_DTYPES
    )
    step = in_whole_mib(inspection.progress("finite (MiB)", max(1, math.ceil(total / MiB))))
    for shard, tensors in headers.items():
        path = inspection.root / shard
        try:
            chunk = inspection.limits.chunk_bytes
            for name, bad in scan_finite(path, tensors, chunk, step, limit):
                inspection.tensors_checked += 1
                inspection.bytes_checked += tensors[name].end - tensors[name].start
                if bad is not None:
                    shape = tensors[name].shape
                    message = non_finite_message(shard, name, shape, bad, narrowest)
                    inspection.add("non-finite", shard, message, name)
        except (OSError, HeaderError) as err:
            inspection.add("truncated", shard, f"{shard}: {' '.join(str(err).split())}")
