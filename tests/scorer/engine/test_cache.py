"""The result cache: what its keys depend on, atomic entries, damaged entries not trusted."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from scorer.engine.cache import ResultCache, checkpoint_fingerprint, unit_key

CONTEXT = {"checkpoint": "abc", "device": "cpu", "dtype": "torch.float32",
           "max_new_tokens": 256, "shots": 5, "mia_k": 0.2, "engine": "batched"}  # fmt: skip


def test_the_key_is_stable_and_ignores_dict_order():
    again = dict(reversed(list(CONTEXT.items())))
    assert unit_key(CONTEXT, "items", [[], ["a", "b"]]) == unit_key(
        again, "items", [[], ["a", "b"]]
    )


@pytest.mark.parametrize(
    "field, value",
    [("checkpoint", "abd"), ("device", "cuda"), ("dtype", "torch.bfloat16"),
     ("max_new_tokens", 255), ("shots", 0), ("mia_k", 0.1), ("engine", "reference")],
)  # fmt: skip
def test_every_context_field_changes_the_key(field: str, value):
    base = unit_key(CONTEXT, "items", [[], ["a", "b"]])
    assert unit_key({**CONTEXT, field: value}, "items", [[], ["a", "b"]]) != base


def test_phase_inputs_and_shared_data_change_the_key():
    base = unit_key(CONTEXT, "items", [[], ["a", "b"]])
    assert unit_key(CONTEXT, "exact-check", [[], ["a", "b"]]) != base
    assert unit_key(CONTEXT, "items", [[], ["a", "c"]]) != base
    assert unit_key(CONTEXT, "items", [[], ["b", "a"]]) != base
    assert unit_key(CONTEXT, "items", [[1, 2], ["a", "b"]]) != base


def _checkpoint(root: Path) -> Path:
    root.mkdir()
    (root / "config.json").write_text("{}")
    (root / "model.safetensors").write_bytes(b"\x00" * 4096)
    return root


def test_the_fingerprint_follows_every_loaded_byte_and_name(tmp_path: Path):
    model = _checkpoint(tmp_path / "model")
    before = checkpoint_fingerprint(model)
    assert checkpoint_fingerprint(model) == before
    (model / "README.md").write_text("a model card is not loaded")
    assert checkpoint_fingerprint(model) == before
    (model / "model.safetensors").write_bytes(b"\x00" * 4095 + b"\x01")
    changed = checkpoint_fingerprint(model)
    assert changed != before
    (model / "model.safetensors").rename(model / "other.safetensors")
    assert checkpoint_fingerprint(model) not in (before, changed)


def test_put_then_get_and_no_root_keeps_nothing(tmp_path: Path):
    cache = ResultCache(tmp_path / "cache")
    assert cache.get("items", "k") is None
    cache.put("items", "k", [["text", 1.5], ["", None]])
    assert cache.get("items", "k") == [["text", 1.5], ["", None]]
    assert cache.get("MIA", "k") is None  # phases do not share entries
    cache.put("items", "k", [["new", 2.0]])
    assert cache.get("items", "k") == [["new", 2.0]]
    nothing = ResultCache(None)
    nothing.put("items", "k", [1])
    assert nothing.get("items", "k") is None


@pytest.mark.parametrize("damage", ["", '{"key": "k", "resu', "[1, 2]", "null", '{"key": "k"}'])
def test_a_damaged_entry_is_not_trusted(tmp_path: Path, damage: str):
    cache = ResultCache(tmp_path)
    cache.put("items", "k", [1])
    (tmp_path / "items" / "k.json").write_text(damage)
    assert cache.get("items", "k") is None


def test_an_interrupted_put_leaves_the_previous_entry_whole(tmp_path: Path, monkeypatch):
    cache = ResultCache(tmp_path)
    cache.put("items", "k", [["old", 1.0]])

    def killed(*_args):
        raise KeyboardInterrupt  # a kill between writing the new entry and renaming it

    monkeypatch.setattr(os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        cache.put("items", "k", [["new", 2.0]])
    monkeypatch.undo()
    assert cache.get("items", "k") == [["old", 1.0]]
    assert [p.name for p in (tmp_path / "items").iterdir()] == ["k.json"]  # no temp file left
