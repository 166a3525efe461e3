"""The runner's own decisions: bad input refused before anything is written, what is in view."""

from __future__ import annotations

from pathlib import Path

import pytest

from scorer.errors import LumeError
from scorer.sandbox.options import EvaluateOptions, RunOptions
from scorer.sandbox.runner import run_submission, sandbox_paths, sandbox_view
from scorer.sandbox.staging import Work

from paths import REPO, SUBMISSIONS


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
        ({"gpus": (97,)}, "--gpus 97: no GPU 97"),  # never minor = index: looked up
    ]
    for changes, message in bad:
        with pytest.raises(LumeError, match=message):
            run_submission(options(**changes))
        assert not out.exists()
    out.mkdir()
    (out / "run.json").write_text("{}")
    with pytest.raises(LumeError, match="not an empty directory"):
        run_submission(options())


def test_the_view_is_the_interpreter_the_staged_inputs_and_the_runs_own_dirs(tmp_path: Path):
    """A whitelist: the held-out data, the track root, the repository and the host's /tmp
    are in view only if bound here, and none is."""
    work = Work.under(tmp_path / "out" / ".lume-work-x")
    track = tmp_path / "track"
    held_out = EvaluateOptions(track / "dataset")
    options = RunOptions(
        tmp_path / "s.py", track / "model", tmp_path / "out", 10, memory_limit_gb=0.5,
        evaluate=held_out,
    )  # fmt: skip
    view = sandbox_view(options, work)
    shown = {source for source, _ in view.read_only + view.writable}
    assert {str(work.model), str(work.forget), str(work.retain), str(work.submission)} <= shown
    assert {t for _, t in view.writable} == {"/lume/outbox", "/lume/home", "/lume/cwd"}
    assert not any(s == str(REPO) or s.startswith(str(track)) or s == "/tmp" for s in shown)
    assert all(s.startswith(str(work.root)) for s, _ in view.writable)
    assert view.tmpfs_bytes == 500_000_000  # a private tmpfs cannot outgrow the budget
    paths = sandbox_paths(work, "bwrap")
    assert paths["output"] == "/lume/outbox/checkpoint" and paths["tmp"] == "/tmp"
    assert sandbox_paths(work, "none")["output"] == str(work.output)


def test_scoring_loads_exactly_the_frozen_bytes_or_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from scorer.sandbox import runner
    from scorer.sandbox.freeze import freeze

    output = tmp_path / "output"
    output.mkdir()
    (output / "model.safetensors").write_bytes(b"weights")
    frozen = freeze(output, tmp_path / "checkpoint")
    monkeypatch.setattr(runner, "_evaluate", lambda *_: {"final": 0.5})
    ev = EvaluateOptions(tmp_path / "data")

    def score():
        return runner.score_frozen(frozen.path, frozen.sha256, ev, tmp_path)

    assert score() == {"scores": {"final": 0.5}}
    (frozen.path / "model.safetensors").write_bytes(b"NaN NaN")
    changed = score()
    assert changed["status"] == "invalid" and changed["scores"] is None
    assert changed["reason"] == (
        "the checkpoint changed after it was judged: model.safetensors: changed"
    )
    (frozen.path / "model.safetensors").write_bytes(b"weights")

    def breaks(*_):
        raise AttributeError("'tuple' object has no attribute 'logits'")

    monkeypatch.setattr(runner, "_evaluate", breaks)
    broken = score()
    assert broken["reason"] == (
        "the checkpoint broke scoring: AttributeError: 'tuple' object has no attribute 'logits'"
    )
