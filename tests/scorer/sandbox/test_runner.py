"""The runner's own decisions: bad input refused before anything is written, what to hide."""

from __future__ import annotations

from pathlib import Path

import pytest

from scorer.errors import LumeError
from scorer.sandbox.options import EvaluateOptions, RunOptions
from scorer.sandbox.runner import hidden_dirs, run_submission

from paths import SUBMISSIONS


def test_bad_input_raises_and_writes_nothing(tiny_track: Path, sets, tmp_path: Path):
    out = tmp_path / "out"

    def options(**changes) -> RunOptions:
        base = {
            "submission": SUBMISSIONS / "well_behaved.py",
            "model": tiny_track / "model",
            "out": out,
            "time_limit": 10,
            "forget": sets[0],
            "retain": sets[1],
        }
        return RunOptions(**{**base, **changes})

    bad = [
        ({"submission": tmp_path / "missing.py"}, "no such file"),
        ({"forget": tmp_path / "nowhere"}, "no such directory"),
        ({"retain": sets[0]}, "holds neither retain.parquet nor .jsonl"),
        ({"model": tmp_path}, "--model: not a usable reference"),
        ({"time_limit": 0}, "must be positive"),
        ({"on_timeout": "maybe"}, "expected score or discard"),
        ({"pass_env": ("HF_TOKEN",)}, "looks like a secret"),
    ]
    for changes, message in bad:
        with pytest.raises(LumeError, match=message):
            run_submission(options(**changes))
        assert not out.exists()
    out.mkdir()
    (out / "run.json").write_text("{}")
    with pytest.raises(LumeError, match="not an empty directory"):
        run_submission(options())


def test_hidden_are_the_tmp_dirs_the_hide_list_and_the_held_out_data(tmp_path: Path):
    base = RunOptions(tmp_path / "s.py", tmp_path, tmp_path, 10, hide=(Path("/judge"),))
    assert hidden_dirs(base) == ["/tmp", "/var/tmp", "/dev/shm", "/judge"]
    shared_tmp = RunOptions(tmp_path / "s.py", tmp_path, tmp_path, 10, private_tmp=False)
    assert hidden_dirs(shared_tmp) == []
    held_out = EvaluateOptions(Path("/held/data"), mmlu=Path("/held/mmlu"))
    scoring = RunOptions(tmp_path / "s.py", tmp_path, tmp_path, 10, evaluate=held_out)
    assert hidden_dirs(scoring)[-2:] == ["/held/data", "/held/mmlu"]
