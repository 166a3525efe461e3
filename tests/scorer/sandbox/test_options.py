"""What a run is asked to do: options from the command line and a track, checked."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

from scorer.data.lume import load_lume
from scorer.errors import LumeError
from scorer.sandbox.options import (
    EvalChoices,
    RunOptions,
    build_options,
    check_inputs,
    parse_gpus,
    with_absolute_paths,
)

from paths import SUBMISSIONS

ROOT = os.geteuid() == 0
WELL_BEHAVED = SUBMISSIONS / "well_behaved.py"


def _build(out: Path, root: Path, track: str | None = "mini", **given) -> RunOptions:
    arguments = {"model": None, "forget": None, "retain": None, "time_limit": None, "gpus": None}
    arguments |= {"evaluate": None} | given
    return build_options(WELL_BEHAVED, out, track=track, root=root, **arguments)


def test_gpu_list_parsing():
    assert parse_gpus("0,1") == (0, 1) and parse_gpus("") == () and parse_gpus(None) == ()
    for bad in ("a", "0,0", "-1"):
        with pytest.raises(LumeError):
            parse_gpus(bad)


def test_without_a_track_the_model_and_the_time_limit_are_needed(tmp_path: Path):
    with pytest.raises(LumeError, match="--model and --time-limit needed"):
        _build(tmp_path / "out", tmp_path, track=None)
    with pytest.raises(LumeError, match="--evaluate needs --data"):
        _build(
            tmp_path / "out", tmp_path, None, model=tmp_path, time_limit=5, evaluate=EvalChoices()
        )


def test_a_track_fills_the_model_the_budget_and_the_sets_handed_over(
    tiny_track: Path, tmp_path: Path
):
    options = _build(tmp_path / "out", tiny_track, gpus="")
    assert options.model == tiny_track / "model"
    assert options.time_limit == 300 and options.gpus == () and options.track == "mini"
    train = load_lume(tiny_track / "dataset", "train")  # the track's fold
    assert options.forget is None and options.forget_items == tuple(train["forget"])
    assert options.retain_items == tuple(train["retain"])
    assert tiny_track / "dataset" in options.hide  # the track's own data stays hidden
    assert options.evaluate is None
    assert options.unlearned_fold == "train"


def test_explicit_options_win_over_the_tracks(tiny_track: Path, tmp_path: Path):
    forget = tmp_path / "forget"
    options = _build(tmp_path / "out", tiny_track, forget=forget, time_limit=42, grace=0.5)
    assert options.time_limit == 42 and options.grace == 0.5
    assert options.forget == forget and options.forget_items == ()
    assert options.retain is None and options.retain_items  # the track still fills this one
    assert options.unlearned_fold is None  # a forget set of the caller's: its fold is unknown


def test_evaluate_takes_the_tracks_data_fold_and_threshold(tiny_track: Path, tmp_path: Path):
    options = _build(tmp_path / "out", tiny_track, evaluate=EvalChoices(shots=0))
    ev = options.evaluate
    assert ev.data == tiny_track / "dataset" and ev.mia == tiny_track / "dataset" / "mia_data"
    assert ev.settings.fold == "train" and ev.settings.shots == 0  # what unlearn() was given
    assert ev.settings.unlearned_fold == "train"
    assert ev.settings.mmlu_threshold == 0.125  # the tiny track's build.json
    chosen = _build(tmp_path / "out", tiny_track, evaluate=EvalChoices(mmlu_threshold=0.5))
    assert chosen.evaluate.settings.mmlu_threshold == 0.5


def test_paths_are_made_absolute_for_the_child(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    options = RunOptions(
        Path("mine.py"), Path("model"), Path("out"), 10, forget=Path("f"), hide=(Path("h"),)
    )
    fixed = with_absolute_paths(options)
    assert fixed.submission == tmp_path / "mine.py" and fixed.model == tmp_path / "model"
    assert fixed.out == tmp_path / "out" and fixed.forget == tmp_path / "f"
    assert fixed.retain is None and fixed.hide == (tmp_path / "h",)


def _run_options(tiny_track: Path, tmp_path: Path) -> RunOptions:
    """A well-behaved submission's options, its sets laid out from the track."""
    items = _build(tmp_path / "out", tiny_track).forget_items
    return RunOptions(
        WELL_BEHAVED, tiny_track / "model", tmp_path / "out", 10, forget_items=items,
        retain_items=items,
    )  # fmt: skip


def test_budget_and_submission_checks(tiny_track: Path, tmp_path: Path):
    base = _run_options(tiny_track, tmp_path)
    check_inputs(base)  # the good one passes
    text = tmp_path / "submission.txt"
    text.write_text("")
    bad = [
        ({"submission": text}, "expected a single .py file"),
        ({"grace": -1}, "must not be negative"),
        ({"memory_limit_gb": 0}, "--memory-limit 0: must be positive"),
        ({"gpu_memory_limit_gb": -2}, "--gpu-memory-limit -2: must be positive"),
        ({"retain_items": ()}, "--retain: a directory with retain.parquet"),
        ({"isolation": "chroot"}, "--isolation chroot: expected bwrap or none"),
    ]
    for changes, message in bad:
        with pytest.raises(LumeError, match=message):
            check_inputs(replace(base, **changes))
    assert not (tmp_path / "out").exists()


def test_without_bubblewrap_the_run_is_refused_unless_isolation_none(
    tiny_track: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    base = _run_options(tiny_track, tmp_path)
    monkeypatch.setattr("scorer.sandbox.bwrap.find_bwrap", lambda: None)
    with pytest.raises(LumeError, match="bubblewrap .bwrap. is not installed.*--isolation none"):
        check_inputs(base)
    check_inputs(replace(base, isolation="none"))  # a trusted local run goes on
    assert not (tmp_path / "out").exists()


def test_a_bubblewrap_that_cannot_sandbox_here_is_refused_in_one_line(
    tiny_track: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    base = _run_options(tiny_track, tmp_path)
    monkeypatch.setattr("scorer.sandbox.bwrap.find_bwrap", lambda: "/bin/false")
    with pytest.raises(LumeError, match=r"bubblewrap cannot create the sandbox here \(\)"):
        check_inputs(base)
    assert not (tmp_path / "out").exists()
