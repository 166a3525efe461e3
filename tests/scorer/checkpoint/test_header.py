"""Safetensors header parsing: what the library accepts is described, anything else refused."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from scorer.checkpoint.header import (
    MAX_HEADER_BYTES,
    HeaderError,
    TensorInfo,
    header_length,
    parse_header,
    read_header,
)


def entry(dtype: str, shape: list, start: int, end: int) -> dict:
    return {"dtype": dtype, "shape": shape, "data_offsets": [start, end]}


def raw(header: dict) -> bytes:
    return json.dumps(header).encode()


def refused(rule: str, file: str, raw_header: bytes, size: int) -> str:
    with pytest.raises(HeaderError) as caught:
        parse_header(file, raw_header, size)
    assert caught.value.rule == rule
    assert file in str(caught.value)
    return str(caught.value)


def test_offsets_become_absolute_and_metadata_is_dropped() -> None:
    header = raw(
        {
            "__metadata__": {"format": "pt"},
            "b": entry("BF16", [3], 8, 14),
            "a": entry("F32", [2], 0, 8),
            "empty": entry("F16", [0, 4], 14, 14),
            "scalar": entry("I64", [], 14, 22),
        }
    )
    base = 8 + len(header)
    tensors = parse_header("m.safetensors", header, base + 22)
    assert tensors == {
        "a": TensorInfo("F32", (2,), base, base + 8),
        "b": TensorInfo("BF16", (3,), base + 8, base + 14),
        "empty": TensorInfo("F16", (0, 4), base + 14, base + 14),
        "scalar": TensorInfo("I64", (), base + 14, base + 22),
    }


def test_the_header_length_must_fit_the_file() -> None:
    eight = struct.pack("<Q", 10)
    assert header_length("m", eight, 18) == 10
    for prefix, size, rule in [
        (b"", 0, "empty"),
        (b"", 7, "truncated"),
        (eight, 17, "truncated"),
        (struct.pack("<Q", MAX_HEADER_BYTES + 1), 10**9, "not-safetensors"),
    ]:
        with pytest.raises(HeaderError) as caught:
            header_length("m", prefix, size)
        assert caught.value.rule == rule, (prefix, size)


@pytest.mark.parametrize(
    "header",
    [
        b"{oops",
        b"\xff\xfe{}",
        b"[]",
        raw({"__metadata__": 3}),
        raw({"a": [1]}),
        raw({"a": entry("F4", [1], 0, 1)}),  # no such dtype
        raw({"a": entry("F32", [True], 0, 4)}),  # a bool is not a count
        raw({"a": entry("F32", [-1], 0, 4)}),
        raw({"a": entry("F32", [1], 4, 0)}),  # reversed
        raw({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4, 8]}}),
        raw({"a": entry("F32", [2], 0, 4)}),  # the shape does not fit the range
    ],
)
def test_malformed_headers_are_not_safetensors(header: bytes) -> None:
    refused("not-safetensors", "m.safetensors", header, 8 + len(header) + 4)


def test_byte_ranges_must_tile_the_data_exactly() -> None:
    gap = raw({"a": entry("F32", [1], 4, 8)})
    assert "gap" in refused("not-safetensors", "m", gap, 8 + len(gap) + 8)
    overlap = raw({"a": entry("F32", [2], 0, 8), "b": entry("F32", [1], 4, 8)})
    assert "overlaps" in refused("not-safetensors", "m", overlap, 8 + len(overlap) + 8)
    whole = raw({"a": entry("F32", [2], 0, 8)})
    assert "after the data" in refused("not-safetensors", "m", whole, 8 + len(whole) + 9)
    assert "ends at byte" in refused("truncated", "m", whole, 8 + len(whole) + 7)


def test_read_header_agrees_with_the_library(tmp_path: Path) -> None:
    tensors = {
        "w": torch.arange(12, dtype=torch.float32).reshape(3, 4),
        "h": torch.arange(5, dtype=torch.bfloat16),
        "i": torch.tensor([7, -8], dtype=torch.int64),
    }
    path = tmp_path / "model.safetensors"
    save_file(tensors, str(path), metadata={"format": "pt"})
    header, data = read_header(path), path.read_bytes()
    assert header.keys() == tensors.keys()
    for name, tensor in tensors.items():
        info = header[name]
        assert info.shape == tuple(tensor.shape)
        assert data[info.start : info.end] == tensor.view(torch.uint8).numpy().tobytes()


def test_read_header_refuses_a_file_shorter_than_its_header(tmp_path: Path) -> None:
    path = tmp_path / "model.safetensors"
    path.write_bytes(struct.pack("<Q", 100) + b"{}")
    with pytest.raises(HeaderError) as caught:
        read_header(path)
    assert caught.value.rule == "truncated" and "runs past the end" in str(caught.value)


def test_read_header_never_follows_a_symlink(tmp_path: Path) -> None:
    real = tmp_path / "real.safetensors"
    save_file({"w": torch.zeros(2)}, str(real))
    (tmp_path / "link.safetensors").symlink_to(real)
    with pytest.raises(OSError):
        read_header(tmp_path / "link.safetensors")
