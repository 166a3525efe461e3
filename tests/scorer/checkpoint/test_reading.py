"""Opening untrusted files: regular files only, never through a symlink, never blocking."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from scorer.checkpoint.reading import open_regular, read_bounded


def test_a_regular_file_is_read_whole_within_its_limit(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"12345")
    assert read_bounded(path, 5) == b"12345"
    with pytest.raises(OSError, match="larger than 4 bytes"):
        read_bounded(path, 4)


def test_a_symlink_is_refused_even_to_a_regular_file(tmp_path: Path) -> None:
    (tmp_path / "real").write_bytes(b"x")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with pytest.raises(OSError):
        open_regular(tmp_path / "link")


def test_a_fifo_swapped_in_is_refused_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")  # with no writer, a blocking open would hang the judge
    with pytest.raises(OSError, match="not a regular file"):
        open_regular(tmp_path / "fifo")
    with pytest.raises(OSError, match="not a regular file"):
        open_regular(tmp_path)  # nor is a directory
