"""The checkpoint frozen before it is judged: new files, hashed, bounded, nothing followed."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from scorer.sandbox.freeze import FreezeLimits, freeze, verify
from scorer.sandbox.staging import remove_tree


def _output(tmp_path: Path) -> Path:
    out = tmp_path / "output"
    out.mkdir()
    (out / "config.json").write_text('{"a": 1}')
    (out / "model.safetensors").write_bytes(b"w" * 5000)
    return out


def test_each_file_is_a_new_root_owned_inode_with_its_hash(tmp_path: Path):
    out = _output(tmp_path)
    (out / ".model.safetensors.tmp").write_bytes(b"half")  # an unfinished atomic save
    (out / ".gitattributes").write_text("*")
    handle = open(out / "model.safetensors", "r+b")  # noqa: SIM115 - held on purpose
    frozen = freeze(out, tmp_path / "checkpoint")
    handle.write(b"NaN!")  # the handle kept from before: reaches only the old inode
    handle.flush()
    handle.close()
    copy = tmp_path / "checkpoint" / "model.safetensors"
    assert copy.read_bytes() == b"w" * 5000
    assert copy.stat().st_ino != (out / "model.safetensors").stat().st_ino
    assert copy.stat().st_uid == os.geteuid() and stat.S_IMODE(copy.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "checkpoint").stat().st_mode) == 0o700
    assert frozen.sha256["model.safetensors"] == hashlib.sha256(b"w" * 5000).hexdigest()
    assert sorted(frozen.sha256) == [".gitattributes", "config.json", "model.safetensors"]
    assert frozen.removed == [".model.safetensors.tmp"] and frozen.violations == []
    assert frozen.total_bytes == 5000 + 8 + 1
    assert verify(frozen.path, frozen.sha256) == []
    copy.write_bytes(b"changed")
    (frozen.path / "extra.bin").write_bytes(b"")
    (frozen.path / "config.json").unlink()
    assert verify(frozen.path, frozen.sha256) == [
        "extra.bin: added", "config.json: missing", "model.safetensors: changed"
    ]  # fmt: skip


def test_symlinks_and_special_files_are_violations_never_followed(tmp_path: Path):
    out = _output(tmp_path)
    judge = tmp_path / "judge.txt"
    judge.write_text("secret")
    (out / "link.json").symlink_to(judge)
    os.mkfifo(out / "pipe")
    frozen = freeze(out, tmp_path / "checkpoint")
    assert [(v.rule, v.file) for v in frozen.violations] == [
        ("symlink", "link.json"), ("unexpected-file", "pipe")
    ]  # fmt: skip
    assert sorted(p.name for p in frozen.path.iterdir()) == ["config.json", "model.safetensors"]


def test_an_output_replaced_by_a_symlink_is_a_violation(tmp_path: Path):
    judge = tmp_path / "judge"
    judge.mkdir()
    (judge / "config.json").write_text("{}")
    (tmp_path / "output").symlink_to(judge)
    frozen = freeze(tmp_path / "output", tmp_path / "checkpoint")
    assert [v.rule for v in frozen.violations] == ["symlink"] and frozen.sha256 == {}
    assert list(frozen.path.iterdir()) == []
    assert freeze(tmp_path / "missing", tmp_path / "c2").violations == []  # nothing left: empty


def test_each_limit_is_refused_with_a_one_line_reason(tmp_path: Path):
    out = _output(tmp_path)
    deep = out
    for _ in range(1100):  # deeper than Python's recursion limit
        deep = deep / "d"
        deep.mkdir()
    frozen = freeze(out, tmp_path / "c1", FreezeLimits(max_depth=4))
    remove_tree(out / "d")  # pytest's own clean-up would recurse
    assert [v.rule for v in frozen.violations] == ["too-deep"]
    assert frozen.violations[0].message == "d/d/d/d/d: deeper than 4 levels"
    many = tmp_path / "many"
    many.mkdir()
    for i in range(30):
        (many / f"f{i}").write_text("x")
    frozen = freeze(many, tmp_path / "c2", FreezeLimits(max_entries=10))
    assert [v.message for v in frozen.violations] == ["more than 10 entries"]
    (tmp_path / "big").mkdir()
    frozen = freeze(_output(tmp_path / "big"), tmp_path / "c3", FreezeLimits(max_total_bytes=4000))
    assert [v.message for v in frozen.violations] == ["the output holds more than 4000 bytes"]
    assert not (tmp_path / "c3" / "model.safetensors").exists()  # no partial copy left
