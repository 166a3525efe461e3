"""The streamed finiteness scan: exact counts and first positions across chunk boundaries."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from scorer.checkpoint.header import HeaderError, read_header
from scorer.checkpoint.scan import (
    NonFinite,
    count_non_finite,
    index_in,
    range_limit,
    scan_finite,
)

NAN, INF = float("nan"), float("inf")


def with_values(n: int, bad: dict[int, float], dtype: torch.dtype = torch.float32) -> torch.Tensor:
    values = torch.arange(n, dtype=torch.float64).to(dtype)
    for index, value in bad.items():
        values[index] = value
    return values


def scan(path: Path, chunk_bytes: int) -> tuple[dict[str, NonFinite | None], list[int]]:
    steps: list[int] = []
    found = dict(scan_finite(path, read_header(path), chunk_bytes, steps.append))
    return found, steps


def test_count_non_finite_counts_across_chunks() -> None:
    chunks = [torch.tensor([1.0, 2.0]), torch.tensor([NAN, INF, -INF]), torch.tensor([NAN])]
    assert count_non_finite(chunks) == NonFinite(nan=2, inf=2, first=2)
    assert count_non_finite([torch.tensor([1.0]), torch.tensor([2.0, 3.0])]) is None
    assert count_non_finite([]) is None


def test_a_finite_chunk_whose_sum_overflows_is_clean() -> None:
    big = torch.full((4,), 60000.0, dtype=torch.float16)  # the sum is Inf in float16
    assert not torch.isfinite(big.sum())
    assert count_non_finite([big]) is None


def test_nan_at_chunk_edges_and_in_the_last_partial_chunk(tmp_path: Path) -> None:
    # 100 float32 values in chunks of 8: 12 whole chunks, then a partial one of 4 values.
    path = tmp_path / "m.safetensors"
    tensors = {
        "edges": with_values(100, {7: NAN, 8: NAN, 99: NAN}),  # last of 1st, first of 2nd, last
        "tail": with_values(100, {96: INF, 99: -INF}),  # both in the partial chunk
        "clean": with_values(100, {}),
        "ints": torch.arange(10, dtype=torch.int32),  # not floating: not scanned
        "none": torch.zeros(0),  # empty: not scanned
    }
    save_file(tensors, str(path))
    found, steps = scan(path, chunk_bytes=32)
    assert found == {
        "clean": None,
        "edges": NonFinite(nan=3, inf=0, first=7),
        "tail": NonFinite(nan=0, inf=2, first=96),
    }
    assert steps == ([32] * 12 + [16]) * 3  # per chunk, in bytes, every byte once


def test_first_non_finite_value_of_a_later_chunk_is_placed_exactly(tmp_path: Path) -> None:
    path = tmp_path / "m.safetensors"
    save_file({"w": with_values(4 * 6, {17: NAN}, torch.bfloat16).reshape(4, 6)}, str(path))
    (bad,) = scan(path, chunk_bytes=8)[0].values()  # 4 bf16 values a chunk
    assert bad == NonFinite(nan=1, inf=0, first=17)
    assert index_in((4, 6), bad.first) == [2, 5]


@pytest.mark.parametrize(("chunk_bytes", "step"), [(13, 8), (3, 8), (1 << 20, 400)])
def test_chunk_size_is_whole_values_and_at_least_eight_bytes(
    tmp_path: Path, chunk_bytes: int, step: int
) -> None:
    path = tmp_path / "m.safetensors"
    save_file({"w": with_values(50, {49: NAN}, torch.float64)}, str(path))
    found, steps = scan(path, chunk_bytes)
    assert found == {"w": NonFinite(nan=1, inf=0, first=49)}
    assert set(steps[:-1]) <= {step} and sum(steps) == 400


def test_a_file_cut_after_its_header_was_read_is_truncated(tmp_path: Path) -> None:
    path = tmp_path / "m.safetensors"
    save_file({"a": with_values(16, {}), "b": with_values(16, {})}, str(path))
    header = read_header(path)
    with open(path, "r+b") as handle:
        handle.truncate(header["b"].start + 10)
    found = {}
    with pytest.raises(HeaderError) as caught:
        for name, bad in scan_finite(path, header, 16):
            found[name] = bad
    assert found == {"a": None}
    assert caught.value.rule == "truncated" and "'b' ends early" in str(caught.value)


def test_index_in_is_row_major() -> None:
    assert index_in((3, 4, 5), 0) == [0, 0, 0]
    assert index_in((3, 4, 5), 21) == [1, 0, 1]
    assert index_in((3, 4, 5), 59) == [2, 3, 4]
    assert index_in((), 0) == []


def test_values_finite_on_disk_but_not_in_the_scoring_dtype_count_as_inf() -> None:
    """F64 1e300 (inf in float32) and F32 3.4e38 (inf in bfloat16) are finite on disk."""
    f64 = torch.tensor([1.0, 1e300, -1e300, 2.0], dtype=torch.float64)
    assert count_non_finite([f64]) == NonFinite(nan=0, inf=2, first=1)
    f32 = torch.tensor([0.5, 3.4e38], dtype=torch.float32)
    assert count_non_finite([f32]) == NonFinite(nan=0, inf=1, first=1)
    fine = torch.tensor([1e38, -3.0e38], dtype=torch.float64)
    assert count_non_finite([fine]) is None
    assert count_non_finite([torch.tensor([float("nan"), 1e300], dtype=torch.float64)]) == (
        NonFinite(nan=1, inf=1, first=0)
    )


def test_the_range_is_the_narrowest_scoring_dtypes():
    assert range_limit() == float(torch.finfo(torch.bfloat16).max)  # bf16 and fp32
    assert range_limit(["float32"]) == float(torch.finfo(torch.float32).max)
    assert range_limit(["bfloat16", "float16"]) == 65504.0
    values = torch.tensor([1.0, 65504.0, -70000.0, 1e5], dtype=torch.float32)
    assert count_non_finite([values]) is None
    assert count_non_finite([values], range_limit(["float16"])) == NonFinite(0, 2, 2)
