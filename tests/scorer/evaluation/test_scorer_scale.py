"""The scorer at scale: exact mode agreement, kill-and-resume, stale caches, two processes,
MMLU prefix reuse."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from scorer.data.mmlu import load_mmlu
from scorer.data.records import Item
from scorer.engine import generate as engine
from scorer.engine.cache import ResultCache, checkpoint_fingerprint
from scorer.engine.parallel import World
from scorer.evaluation.evaluate import Job, _answer_split, evaluate, score_items
from scorer.evaluation.progress import no_progress
from scorer.evaluation.settings import EvalSettings
from scorer.official.mmlu_prompt import answer_token_ids, format_question, shots_prefix

from scoring import evaluate_args, lume_score, track_paths


def _cli(track: Path, out: Path, *extra: str) -> list[str]:
    return evaluate_args(track, out, "--json", *extra)


def _outputs(out: Path) -> dict[str, bytes]:
    return {name: (out / name).read_bytes() for name in ("scores.json", "items.jsonl", "mia.jsonl")}


def test_prefix_reuse_chooses_what_the_whole_prompt_chooses(tiny_track: Path):
    p = track_paths(tiny_track)
    lm = engine.load_model(p["model_dir"], "cpu")
    mmlu = load_mmlu(p["mmlu_dir"])
    subject = sorted(mmlu["test"])[0]
    prefix_text = shots_prefix(subject, mmlu["dev"][subject])
    prefix = lm.tokenizer(prefix_text)["input_ids"]
    prompts = [prefix_text + format_question(q, False) for q in mmlu["test"][subject]]
    fulls = [lm.tokenizer(t)["input_ids"] for t in prompts]
    assert all(f[: len(prefix)] == prefix for f in fulls)
    candidates = answer_token_ids(lambda s: lm.tokenizer.encode(s, add_special_tokens=False))
    with torch.inference_mode():
        reference_logits = [
            lm.model(input_ids=torch.tensor([f])).logits[0, -1, candidates] for f in fulls
        ]
    chosen = engine.choose_after_prefix(lm, prefix, [f[len(prefix) :] for f in fulls], candidates)
    assert chosen == [int(x.argmax()) for x in reference_logits]
    assert chosen == [engine.reference_choice(lm, t, candidates) for t in prompts]


def test_greedy_loop_equals_model_generate_row_by_row(tiny_track: Path):
    p = track_paths(tiny_track)
    lm = engine.load_model(p["model_dir"], "cpu")
    prompts = ["Alice was", "The", "In the year 1990, a quiet town", "x"]
    batched = engine.generate(lm, prompts, max_new_tokens=24)
    assert batched == [engine.reference_generate(lm, t, 24) for t in prompts]


def test_one_pass_gives_the_official_answer_nll_and_generation(tiny_track: Path):
    """Generation and answer NLL share one pass; a join that retokenizes the prompt (a
    word split across input and output) falls back to its own pass; both as official."""
    p = track_paths(tiny_track)
    lm = engine.load_model(p["model_dir"], "cpu")
    pairs = [
        ("Alice was", " born in a small town."),
        ("The", " river flows east"),
        ("In the year 1990, a quiet town", " grew."),
        ("Alice wa", "s born in a small town."),  # "wa" + "s": the joined text tokenizes apart
        ("x", ""),  # no answer token: no NLL
    ]
    prompts = engine.encode(lm, [i for i, _ in pairs])
    joined = engine.encode(lm, [i + o for i, o in pairs])
    splits = [_answer_split(q, r, min(len(q), len(r))) for q, r in zip(prompts, joined)]
    assert splits[3] is None and all(s is not None for k, s in enumerate(splits) if k != 3)

    items = [Item(f"r{k}sc1", i, o, "Task1", "forget") for k, (i, o) in enumerate(pairs)]
    job = Job(lm, EvalSettings(max_new_tokens=12), ResultCache(None), World(0, 1, 0), {},
              no_progress)  # fmt: skip
    results = score_items(job, items)
    for item, result in zip(items, results):
        assert result["generation"] == engine.reference_generate(lm, item.input, 12)
        official = engine.reference_answer_nll(lm, item.input, item.output)
        if official is None:
            assert result["nll"] is None
        else:
            assert result["nll"] == pytest.approx(official, abs=1e-5)
    assert [r["nll"] is None for r in results] == [False, False, False, False, True]

    # the prefill in chunks of one row each, caches stacked: the same tokens and NLLs
    rows = [(q, s) for q, s in zip(prompts, splits) if s is not None]
    whole = engine.generate_and_score(lm, [q for q, _ in rows], [s for _, s in rows], 12)
    apart = engine.generate_and_score(lm, [q for q, _ in rows], [s for _, s in rows], 12, 1)
    assert apart[0] == whole[0]
    assert apart[1] == pytest.approx(whole[1], abs=1e-5)


@pytest.mark.slow
def test_batched_mode_agrees_with_the_exact_per_item_loop(mini_track: Path, tmp_path: Path):
    p = track_paths(mini_track)
    common = dict(mia_dir=p["mia_dir"], mmlu_dir=p["mmlu_dir"])
    fast = evaluate(p["model_dir"], p["data_dir"], tmp_path / "fast", **common,
                    settings=EvalSettings(check_exact=16))  # fmt: skip
    exact = evaluate(p["model_dir"], p["data_dir"], tmp_path / "exact", **common,
                     settings=EvalSettings(exact=True))  # fmt: skip
    fast_items = (tmp_path / "fast" / "items.jsonl").read_text().splitlines()
    exact_items = (tmp_path / "exact" / "items.jsonl").read_text().splitlines()
    same = sum(
        json.loads(a)["generation"] == json.loads(b)["generation"]
        for a, b in zip(fast_items, exact_items)
    )
    assert same >= 0.99 * len(exact_items)
    for key in ("task_aggregate", "mia_auc", "mmlu", "final_score"):
        assert fast[key] == pytest.approx(exact[key], abs=0.005), key
    for split in ("forget", "retain"):
        for task, metrics in exact[split].items():
            for metric, value in metrics.items():
                assert fast[split][task][metric] == pytest.approx(value, abs=0.005)
    assert fast["agreement"]["items"] == 16
    assert fast["agreement"]["fraction_identical"] >= 0.99
    # the bootstrap interval holds the point estimate
    for key in ("task_aggregate", "mia_auc", "mmlu", "final_score"):
        lo, hi = fast["beyond_official"]["bootstrap"][key]
        assert lo <= fast[key] <= hi, key
    # the memorized target is caught by every attack, not only the official loss attack
    attacks = fast["beyond_official"]["mia_attacks"]
    assert attacks["loss"] == fast["mia_auc"]
    assert min(attacks[a] for a in ("min_k", "min_k_plus_plus", "zlib")) > 0.9


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


def _generations(out: Path) -> set[str]:
    lines = (out / "items.jsonl").read_text().splitlines()
    return {json.loads(line)["generation"] for line in lines}


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
    assert _generations(out) == {"POISON"}

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


@pytest.mark.slow
def test_two_processes_give_the_bytes_of_one(tiny_track: Path, tmp_path: Path):
    one, two = tmp_path / "one", tmp_path / "two"
    args = ("--batch-tokens", "400", "--bootstrap", "50", "--max-new-tokens", "48")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    single = lume_score(*_cli(tiny_track, one, *args), env=env)
    assert single.returncode == 0, single.stderr
    launched = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node",
            "2",
            "--master_port",
            "29533",
            "-m",
            "scorer.cli",
            *_cli(tiny_track, two, *args),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert launched.returncode == 0, launched.stderr[-3000:]
    assert _outputs(two) == _outputs(one)
    units = json.loads((two / "timings.json").read_text())["units_by_process"]
    assert sorted(units) == ["0", "1"]  # two ranks really ran
    assert all(units[rank]["computed"] > 0 for rank in units)


def test_track_fills_the_evaluate_inputs(tiny_track: Path, tmp_path: Path):
    from typer.testing import CliRunner

    from scorer.cli.app import app

    build = json.loads((tiny_track / "build.json").read_text())
    model = str(track_paths(tiny_track)["model_dir"])
    common = ["--max-new-tokens", "8", "--bootstrap", "0", "--no-cache", "--json"]
    by_track = CliRunner().invoke(
        app,
        ["evaluate", model, "--track", "mini", "--root", str(tiny_track),
         "--out", str(tmp_path / "t"), *common],
    )  # fmt: skip
    assert by_track.exit_code == 0, by_track.output
    scores = json.loads((tmp_path / "t" / "scores.json").read_text())
    assert scores["mmlu_threshold"] == build["mmlu_threshold"]
    assert scores["mia_auc"] is not None and scores["mmlu"] is not None
    explicit = lume_score(*_cli(tiny_track, tmp_path / "e", *common[:-1]),
                           "--mmlu-threshold", str(build["mmlu_threshold"]))  # fmt: skip
    assert explicit.returncode == 0, explicit.stderr
    assert (tmp_path / "e" / "scores.json").read_bytes() == (
        tmp_path / "t" / "scores.json"
    ).read_bytes()
    missing = CliRunner().invoke(app, ["evaluate", model, "--out", str(tmp_path / "m")])
    assert missing.exit_code == 2 and "--data" in missing.output
    assert not (tmp_path / "m").exists()
