"""The result cache's keys as ``evaluate`` really builds them: every setting that changes a
phase's numbers gives that phase new keys, and nothing that leaves the numbers alone does.

``evaluate`` runs for real on the tiny track (a fraction of a second each, on the CPU); only
the work plan is watched, to read each phase's key context and unit keys as they were made.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from safetensors.torch import load_file, save_file

import scorer.evaluation.job as job_module
from scorer.evaluation.evaluate import evaluate
from scorer.evaluation.settings import EvalSettings

from scoring import track_paths

PHASES = ("items", "repair", "MIA", "MMLU")
# float32 everywhere and a short generation: fast, and every dtype change below is a change
BASE = {"device": "cpu", "bootstrap": 0, "max_new_tokens": 4, "dtype": "float32",
        "mmlu_dtype": "float32", "batch_tokens": 4096}  # fmt: skip


def _keys(
    monkeypatch: pytest.MonkeyPatch, track: Path, out: Path, model: Path | None = None, **changed
) -> dict[str, tuple[dict, list[str]]]:
    """``{phase: (key context, unit keys)}`` of one ``evaluate`` run with ``changed``
    settings (on ``model`` when given, else the track's target)."""
    seen: dict[str, tuple[dict, list[str]]] = {}
    plan = job_module.plan

    def watched(phase, work, payload, context):
        units = plan(phase, work, payload, context)
        assert phase not in seen, f"{phase} planned twice"
        seen[phase] = ({**context, "engine": work.engine}, [u.key for u in units])
        return units

    monkeypatch.setattr(job_module, "plan", watched)
    paths = track_paths(track)
    evaluate(
        model or paths["model_dir"],
        paths["data_dir"],
        out,
        paths["mia_dir"],
        paths["mmlu_dir"],
        settings=EvalSettings(**{**BASE, **changed}),
        cache_dir=out / "cache",
    )
    monkeypatch.undo()
    return seen


@pytest.fixture(scope="module")
def base(tiny_track: Path, tmp_path_factory: pytest.TempPathFactory):
    with pytest.MonkeyPatch.context() as monkeypatch:
        keys = _keys(monkeypatch, tiny_track, tmp_path_factory.mktemp("base"))
    assert set(PHASES) <= set(keys)
    assert all(keys[p][1] for p in PHASES), "every phase has units"
    return keys


def _differ(a: dict, b: dict, phases=PHASES) -> list[str]:
    return [p for p in phases if a[p][1] != b[p][1]]


# setting -> the phases whose numbers it changes (each must get new keys; the others may)
CHANGES_NUMBERS = [
    ({"dtype": "bfloat16"}, ("items", "repair", "MIA")),
    ({"mmlu_dtype": "bfloat16"}, ("MMLU",)),
    ({"max_new_tokens": 5}, ("items", "repair")),
    ({"shots": 1}, ("MMLU",)),
    ({"mia_k": 0.1}, ("MIA",)),
    ({"exact": True}, ("items",)),
]


@pytest.mark.parametrize(("changed", "phases"), CHANGES_NUMBERS, ids=lambda x: "-".join(x))
def test_a_setting_that_changes_the_numbers_changes_the_keys(
    monkeypatch, tiny_track: Path, tmp_path: Path, base, changed: dict, phases: tuple
):
    keys = _keys(monkeypatch, tiny_track, tmp_path / "out", **changed)
    for phase in phases:
        assert phase in keys and set(keys[phase][1]).isdisjoint(base[phase][1]), phase


def test_the_mmlu_dtype_alone_decides_the_mmlu_keys(
    monkeypatch, tiny_track: Path, tmp_path: Path, base
):
    """Items in bf16, MMLU in float32 as before: MMLU is the same work, found again; the
    key context of each phase names the dtype that phase really ran in."""
    keys = _keys(monkeypatch, tiny_track, tmp_path / "out", dtype="bfloat16")
    assert keys["MMLU"][1] == base["MMLU"][1]
    assert keys["items"][0]["dtype"] == keys["MIA"][0]["dtype"] == "torch.bfloat16"
    assert keys["MMLU"][0]["dtype"] == base["items"][0]["dtype"] == "torch.float32"
    both = _keys(
        monkeypatch, tiny_track, tmp_path / "both", dtype="bfloat16", mmlu_dtype="bfloat16"
    )
    assert both["items"][1] == keys["items"][1]
    assert set(both["MMLU"][1]).isdisjoint(base["MMLU"][1])


def test_changed_weights_change_every_key(monkeypatch, tiny_track: Path, tmp_path: Path, base):
    model = tmp_path / "model"
    shutil.copytree(track_paths(tiny_track)["model_dir"], model)
    weights = model / "model.safetensors"
    tensors = load_file(weights)
    name = sorted(tensors)[0]
    tensors[name] = tensors[name] + 1e-3
    save_file(tensors, weights, metadata={"format": "pt"})
    keys = _keys(monkeypatch, tiny_track, tmp_path / "out", model=model)
    for phase in PHASES:
        assert set(keys[phase][1]).isdisjoint(base[phase][1]), phase


# settings that leave every number alone: the same keys, so a resumed run finds its work
SAME_NUMBERS = [
    {"bootstrap": 20},
    {"mmlu_threshold": 0.1},
    {"unlearned_fold": "validation"},
    {"check_exact": 2},
    {"repair": False},
]


@pytest.mark.parametrize("changed", SAME_NUMBERS, ids=lambda x: "-".join(x))
def test_a_setting_that_leaves_the_numbers_alone_keeps_the_keys(
    monkeypatch, tiny_track: Path, tmp_path: Path, base, changed: dict
):
    keys = _keys(monkeypatch, tiny_track, tmp_path / "out", **changed)
    assert {"items", "MIA", "MMLU"} <= set(keys)
    assert _differ(keys, base, [p for p in PHASES if p in keys]) == []


def test_the_same_bytes_elsewhere_and_another_batch_budget_keep_the_context(
    monkeypatch, tiny_track: Path, tmp_path: Path, base
):
    """A copy of the checkpoint in another directory, written to another output: the same
    keys (no path in a key). Another batch budget cuts other batches, but keys them with
    the same context, so that each batch's result depends on its own inputs only."""
    model = tmp_path / "elsewhere" / "model"
    shutil.copytree(track_paths(tiny_track)["model_dir"], model)
    moved = _keys(monkeypatch, tiny_track, tmp_path / "other-out", model=model)
    assert _differ(moved, base) == []
    budget = _keys(monkeypatch, tiny_track, tmp_path / "budget", batch_tokens=64)
    for phase in PHASES:
        assert budget[phase][0] == base[phase][0], phase
    assert budget["items"][1] != base["items"][1]  # really other batches
