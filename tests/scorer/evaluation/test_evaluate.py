"""``evaluate`` as a whole: resumable, never fooled by a stale cache, its numbers unmoved by
the batch budget or by the checkpoint's own generation config."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
from safetensors.torch import load_file, save_file

from scorer.data.files import write_items_parquet
from scorer.data.lume import find_lume_files, load_lume
from scorer.engine.cache import checkpoint_fingerprint
from scorer.evaluation.evaluate import evaluate
from scorer.evaluation.progress import PhaseTimer
from scorer.evaluation.settings import EvalSettings

from scoring import evaluate_args, lume_score, track_paths


def _cli(track: Path, out: Path, *extra: str) -> list[str]:
    return evaluate_args(track, out, "--json", *extra)


def _outputs(out: Path) -> dict[str, bytes]:
    return {name: (out / name).read_bytes() for name in ("scores.json", "items.jsonl", "mia.jsonl")}


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_killed_run_resumes_to_the_same_bytes(tiny_track: Path, tmp_path: Path):
    plain, resumed = tmp_path / "plain", tmp_path / "resumed"
    small = ("--batch-tokens", "300", "--bootstrap", "50")
    first = lume_score(*_cli(tiny_track, plain, *small))
    assert first.returncode == 0, first.stderr

    process = subprocess.Popen(
        [sys.executable, "-m", "scorer.cli", *_cli(tiny_track, resumed, *small)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    done = resumed / "cache" / "items"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and len(list(done.glob("*.json"))) < 2:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    partial = len(list(done.glob("*.json")))
    total = len(list((plain / "cache" / "items").glob("*.json")))
    assert 2 <= partial < total, "the kill must land mid-generation"
    assert not (resumed / "scores.json").exists()

    second = lume_score(*_cli(tiny_track, resumed, *small))
    assert second.returncode == 0, second.stderr
    assert _outputs(resumed) == _outputs(plain)
    units = json.loads((resumed / "timings.json").read_text())["units_by_process"]["0"]
    assert units["cached"] >= partial  # the finished batches were not recomputed
    assert units["computed"] > 0


def _poison_cache(out: Path) -> None:
    for entry in (out / "cache" / "items").glob("*.json"):
        record = json.loads(entry.read_text())
        record["result"] = [["POISON", None]] * len(record["result"])  # (generation, NLL)
        entry.write_text(json.dumps(record))


def _generations(out: Path) -> list[str]:
    return [row["generation"] for row in _rows(out / "items.jsonl")]


def test_a_changed_checkpoint_or_setting_never_reuses_the_cache(tiny_track: Path, tmp_path: Path):
    out = tmp_path / "out"
    model = tmp_path / "model"
    shutil.copytree(track_paths(tiny_track)["model_dir"], model)
    args = ("--bootstrap", "0", "--max-new-tokens", "16")
    cli = _cli(tiny_track, out, *args)
    cli[1] = str(model)
    assert lume_score(*cli).returncode == 0
    _poison_cache(out)

    # same checkpoint, same settings: the (poisoned) cache is used — it really is read
    assert lume_score(*cli).returncode == 0
    assert set(_generations(out)) == {"POISON"}

    # another setting: a different key, fresh results
    other = lume_score(*cli[:-1], "15")
    assert other.returncode == 0
    assert "POISON" not in _generations(out)

    # the same setting on changed weights: a different fingerprint, fresh results
    before = checkpoint_fingerprint(model)
    weights = model / "model.safetensors"
    tensors = load_file(weights)
    name = sorted(tensors)[0]
    tensors[name] = tensors[name] + 1e-3
    save_file(tensors, weights, metadata={"format": "pt"})
    assert checkpoint_fingerprint(model) != before
    changed = lume_score(*cli)
    assert changed.returncode == 0
    assert "POISON" not in _generations(out)

    # the same checkpoint and settings, exact: the batched engine's entries are not reused
    _poison_cache(out)
    exact = lume_score(*cli, "--exact")
    assert exact.returncode == 0
    assert "POISON" not in _generations(out)


def _evaluate(track: Path, out: Path, data_dir: Path | None = None, **settings) -> dict:
    paths = track_paths(track)
    timer = PhaseTimer()
    evaluate(
        paths["model_dir"],
        data_dir or paths["data_dir"],
        out,
        paths["mia_dir"],
        paths["mmlu_dir"],
        settings=EvalSettings(device="cpu", bootstrap=50, **settings),
        timer=timer,
        cache_dir=out / "cache",
    )
    return timer.units["0"]


def test_a_changed_item_gets_a_new_key_and_never_a_stale_result(tiny_track: Path, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(track_paths(tiny_track)["data_dir"], data)
    out = tmp_path / "out"
    _evaluate(tiny_track, out, data, max_new_tokens=8, batch_tokens=200)
    assert len(list((out / "cache" / "items").glob("*.json"))) > 2
    units_cached = len(list((out / "cache").rglob("*.json")))  # every phase (items, repair...)
    _poison_cache(out)

    fold = EvalSettings.fold  # the fold scored by default
    forget = load_lume(data, fold)["forget"]
    changed = forget[0].id
    forget[0] = replace(forget[0], input=forget[0].input + " Then")
    write_items_parquet(find_lume_files(data, fold)["forget"], forget)
    units = _evaluate(tiny_track, out, data, max_new_tokens=8, batch_tokens=200)

    assert units["computed"] >= 1 and units["cached"] >= 1
    rows = _rows(out / "items.jsonl")
    fresh = [r["id"] for r in rows if r["generation"] != "POISON"]
    assert changed in fresh  # its batch was recomputed ...
    assert len(fresh) < len(rows)  # ... while unchanged batches came from the cache
    assert len(list((out / "cache").rglob("*.json"))) == units_cached + units["computed"]


def _flat(value, path=""):
    """``{json path: leaf}`` of a JSON value."""
    if isinstance(value, dict):
        return {k: v for key in value for k, v in _flat(value[key], f"{path}/{key}").items()}
    if isinstance(value, list):
        return {k: v for i, x in enumerate(value) for k, v in _flat(x, f"{path}/{i}").items()}
    return {path: value}


def _same_numbers(a, b) -> None:
    """Equal JSON values: texts and flags exactly, floats up to rounding (the attacks beyond
    the official score divide by small spreads: a few digits of rounding show)."""
    flat_a, flat_b = _flat(a), _flat(b)
    assert flat_a.keys() == flat_b.keys()
    for key, value in flat_a.items():
        if isinstance(value, float):
            assert flat_b[key] == pytest.approx(value, rel=1e-4, abs=1e-6), key
        else:
            assert flat_b[key] == value, key


def test_the_batch_budget_never_changes_the_numbers(tiny_track: Path, tmp_path: Path):
    small = _evaluate(tiny_track, tmp_path / "small", max_new_tokens=32, batch_tokens=48)
    large = _evaluate(tiny_track, tmp_path / "large", max_new_tokens=32, batch_tokens=1 << 20)
    assert small["computed"] > 3 * large["computed"]  # really different batches
    small_items = _rows(tmp_path / "small" / "items.jsonl")
    large_items = _rows(tmp_path / "large" / "items.jsonl")
    assert [r["generation"] for r in small_items] == [r["generation"] for r in large_items]
    _same_numbers(small_items, large_items)
    _same_numbers(_rows(tmp_path / "small" / "mia.jsonl"), _rows(tmp_path / "large" / "mia.jsonl"))
    small_scores = json.loads((tmp_path / "small" / "scores.json").read_text())
    large_scores = json.loads((tmp_path / "large" / "scores.json").read_text())
    for key in ("final_score", "task_aggregate", "mia_auc", "mmlu", "forget", "retain"):
        assert small_scores[key] == large_scores[key], key
    _same_numbers(small_scores, large_scores)


@pytest.mark.parametrize("exact", [False, True])
def test_the_checkpoints_generation_config_is_ignored(tiny_track: Path, tmp_path, exact: bool):
    model = tmp_path / "model"
    shutil.copytree(track_paths(tiny_track)["model_dir"], model)
    steering = {"repetition_penalty": 5.0, "max_new_tokens": 1, "do_sample": True,
                "temperature": 3.0, "no_repeat_ngram_size": 1, "eos_token_id": 5}  # fmt: skip
    paths = track_paths(tiny_track)
    settings = EvalSettings(device="cpu", max_new_tokens=12, bootstrap=0, exact=exact)
    for name, checkpoint in (("plain", paths["model_dir"]), ("steered", model)):
        if name == "steered":
            (model / "generation_config.json").write_text(json.dumps(steering))
        evaluate(checkpoint, paths["data_dir"], tmp_path / name, settings=settings)
    plain = (tmp_path / "plain" / "items.jsonl").read_bytes()
    assert (tmp_path / "steered" / "items.jsonl").read_bytes() == plain
    generations = _generations(tmp_path / "plain")
    assert max(len(g.split()) for g in generations) > 1  # max_new_tokens=1 would show
