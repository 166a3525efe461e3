"""The cache room's edges that mutation testing found unguarded (``python -m tools.mutate
cache``): a checkpoint is read in bounded chunks, an entry is plain UTF-8 JSON naming its
key, a unit's key hashes its phase, and progress counts inputs."""

from __future__ import annotations

import json
from pathlib import Path

from scorer.engine import cache as cache_module
from scorer.engine.cache import ResultCache, checkpoint_fingerprint
from scorer.engine.parallel import World
from scorer.engine.workplan import Batch, Work, plan, run_units


def test_the_fingerprint_reads_a_checkpoint_in_bounded_chunks(tmp_path: Path, monkeypatch):
    (tmp_path / "model.safetensors").write_bytes(b"\x01" * (3 << 20))
    reads: list = []
    opened = Path.open

    class Recording:
        def __init__(self, handle):
            self.handle = handle

        def read(self, size=-1):
            reads.append(size)
            return self.handle.read(size)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.handle.close()

    def recording_open(path, mode="r", *args, **kwargs):
        handle = opened(path, mode, *args, **kwargs)
        return Recording(handle) if mode == "rb" else handle

    monkeypatch.setattr(Path, "open", recording_open)
    whole = checkpoint_fingerprint(tmp_path)
    monkeypatch.undo()
    assert reads and all(size is not None and 0 < size <= 1 << 20 for size in reads)
    assert whole == checkpoint_fingerprint(tmp_path)  # the chunks hash as the whole file
    assert cache_module._CHUNK == 1 << 20


def test_an_entry_is_readable_utf8_json_naming_its_key(tmp_path: Path):
    cache = ResultCache(tmp_path)
    cache.put("items", "k1", [["Zoë", 1.0]])
    raw = (tmp_path / "items" / "k1.json").read_bytes()
    assert "Zoë".encode() in raw  # not escaped as \\u00eb
    assert json.loads(raw.decode("utf-8")) == {"key": "k1", "result": [["Zoë", 1.0]]}
    assert cache.get("items", "k1") == [["Zoë", 1.0]]


def _work(engine: str = "batched") -> Work:
    return Work(engine, (Batch((0, 1)), Batch((2,))), lambda b: [f"r{i}" for i in b.indices])


def test_the_phase_is_hashed_into_every_key():
    items = plan("items", _work(), str, {"checkpoint": "abc"})
    mia = plan("MIA", _work(), str, {"checkpoint": "abc"})
    assert not {u.key for u in items} & {u.key for u in mia}


def test_progress_counts_the_inputs_of_each_unit():
    steps: list = []
    units = plan("items", _work(), str, {"checkpoint": "abc"})
    results = run_units(units, _work().compute, ResultCache(None), World(0, 1, 0), steps.append)
    assert results == {0: "r0", 1: "r1", 2: "r2"}
    assert steps == [2, 1]
