"""The submission's log: capped, its head and tail kept, what was dropped said."""

from __future__ import annotations

from pathlib import Path

from scorer.sandbox.capped_log import CappedLog


def _write(path: Path, data: bytes, cap: int, tail_bytes: int, chunk: int = 3) -> CappedLog:
    log = CappedLog(str(path), cap, tail_bytes)
    for start in range(0, len(data), chunk):
        log.write(data[start : start + chunk])
    log.close()
    return log


def test_under_the_cap_everything_is_kept(tmp_path: Path):
    log = _write(tmp_path / "log", b"hello\nworld\n", cap=100, tail_bytes=8)
    assert (tmp_path / "log").read_bytes() == b"hello\nworld\n"
    assert log.truncated is False and log.total_bytes == 12


def test_over_the_cap_the_head_and_the_tail_are_kept_and_the_gap_is_said(tmp_path: Path):
    log = _write(tmp_path / "log", b"0123456789ABCDEFGHIJ", cap=10, tail_bytes=8)
    expected = b"0123456789" + b"\n[lume: 2 bytes of log dropped]\n" + b"CDEFGHIJ"
    assert (tmp_path / "log").read_bytes() == expected
    assert log.truncated is True and log.total_bytes == 20


def test_past_the_cap_but_within_the_tail_nothing_is_dropped(tmp_path: Path):
    log = _write(tmp_path / "log", b"0123456789ABCDEF", cap=10, tail_bytes=100)
    assert (tmp_path / "log").read_bytes() == b"0123456789ABCDEF"
    assert log.truncated is False
