"""The baseline training loop: direction, checkpoints, deadlines, bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from baselines import losses
from baselines.checkpoint import INDEX, save_checkpoint
from baselines.train import TrainConfig, collate, load_split, make_example, run_unlearning
from scorer.data.files import write_items_parquet
from scorer.data.lume import load_lume
from scorer.errors import LumeError

FAST = {"learning_rate": 1e-3, "epochs": 1, "batch_size": 4, "gradient_accumulation": 1}


@pytest.fixture()
def splits(tiny_track: Path, tmp_path: Path) -> tuple[Path, Path, Path]:
    """(model, forget dir, retain dir) as the organizers hand them to unlearn()."""
    lume = load_lume(tiny_track / "dataset", "train")
    write_items_parquet(tmp_path / "forget" / "forget.parquet", lume["forget"])
    write_items_parquet(tmp_path / "retain" / "retain.parquet", lume["retain"])
    return tiny_track / "model", tmp_path / "forget", tmp_path / "retain"


def _forget_nll(model_dir: Path, forget_dir: Path) -> float:
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    examples = [make_example(tokenizer, i, False, 512) for i in load_split(forget_dir, "forget")]
    batch = collate(examples, tokenizer.eos_token_id)
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    return losses.mean_nll(logits, batch["labels"]).item()


def _assert_complete_checkpoint(out: Path, source: Path) -> None:
    index = json.loads((out / INDEX).read_text())
    shards = set(index["weight_map"].values())
    assert all((out / s).is_file() for s in shards)
    assert {p.name for p in out.glob("*.safetensors")} == shards  # no stale shards
    assert not list(out.glob(".*"))  # no staging leftovers
    for name in ("tokenizer.json", "tokenizer_config.json"):
        assert (out / name).read_bytes() == (source / name).read_bytes()
    AutoModelForCausalLM.from_pretrained(out, use_safetensors=True)


def test_gradient_ascent_raises_the_forget_nll(splits, tmp_path):
    model, forget, retain = splits
    before = _forget_nll(model, forget)
    report = run_unlearning(
        TrainConfig(method="ga", **FAST), model, tmp_path / "out", forget, retain
    )
    assert report.steps > 0 and report.saves == [report.steps]
    assert _forget_nll(tmp_path / "out", forget) > before + 0.1
    _assert_complete_checkpoint(tmp_path / "out", model)


@pytest.mark.parametrize("method", ["gd", "kl", "npo", "simnpo"])
def test_every_method_leaves_a_checkpoint(method, splits, tmp_path):
    model, forget, retain = splits
    run_unlearning(TrainConfig(method=method, **FAST), model, tmp_path / "out", forget, retain)
    _assert_complete_checkpoint(tmp_path / "out", model)


def test_only_kl_loads_a_reference_model(splits, tmp_path, monkeypatch):
    model, forget, retain = splits
    loads = []
    original = AutoModelForCausalLM.from_pretrained

    def counting(*args, **kwargs):
        loads.append(args[0])
        return original(*args, **kwargs)

    monkeypatch.setattr(AutoModelForCausalLM, "from_pretrained", counting)
    for method, expected in (("npo", 1), ("kl", 2)):
        loads.clear()
        run_unlearning(TrainConfig(method=method, **FAST), model, tmp_path / method, forget, retain)
        assert len(loads) == expected, method


def test_repeated_saves_keep_exactly_one_checkpoint(splits, tmp_path):
    model, forget, retain = splits
    config = TrainConfig(method="ga", save_every=1, **FAST)
    report = run_unlearning(config, model, tmp_path / "out", forget, retain)
    assert len(report.saves) >= 3
    _assert_complete_checkpoint(tmp_path / "out", model)


SAVER = """
import sys
from transformers import AutoModelForCausalLM
from baselines.checkpoint import save_checkpoint
model = AutoModelForCausalLM.from_pretrained(sys.argv[1])
save_checkpoint(model, sys.argv[1], sys.argv[2])
print("ready", flush=True)
while True:
    save_checkpoint(model, sys.argv[1], sys.argv[2])
"""


def test_a_kill_during_saves_leaves_a_loadable_checkpoint(tiny_track, tmp_path):
    model = tiny_track / "model"
    out = tmp_path / "out"
    for delay in (0.05, 0.13, 0.21, 0.37):
        proc = subprocess.Popen(
            [sys.executable, "-c", SAVER, str(model), str(out)], stdout=subprocess.PIPE, text=True
        )
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        index = json.loads((out / INDEX).read_text())
        assert all((out / s).is_file() for s in index["weight_map"].values())
        AutoModelForCausalLM.from_pretrained(out, use_safetensors=True)
    # the next save clears what the kills left half-way
    save_checkpoint(AutoModelForCausalLM.from_pretrained(model), model, out)
    _assert_complete_checkpoint(out, model)


def test_a_near_deadline_still_leaves_a_checkpoint_in_time(splits, tmp_path):
    model, forget, retain = splits
    deadline = time.time() + 8
    config = TrainConfig(method="ga", deadline=deadline, **{**FAST, "epochs": 10_000})
    report = run_unlearning(config, model, tmp_path / "out", forget, retain)
    assert report.stopped_by_deadline
    assert time.time() < deadline
    assert (tmp_path / "out" / INDEX).stat().st_mtime < deadline
    _assert_complete_checkpoint(tmp_path / "out", model)


def test_bad_inputs_are_one_line_errors(splits, tmp_path):
    model, forget, retain = splits
    config = TrainConfig(method="ga", **FAST)
    with pytest.raises(LumeError, match="no forget.parquet or forget.jsonl"):
        run_unlearning(config, model, tmp_path / "o1", tmp_path / "nowhere", retain)
    write_items_parquet(tmp_path / "empty" / "retain.parquet", [])
    with pytest.raises(LumeError, match="empty"):
        run_unlearning(config, model, tmp_path / "o2", forget, tmp_path / "empty")
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(LumeError, match="a-file"):
        run_unlearning(config, model, blocker / "out", forget, retain)
    with pytest.raises(LumeError, match="method"):
        run_unlearning(TrainConfig(method="xx"), model, tmp_path / "o3", forget, retain)
    assert not any((tmp_path / name).exists() for name in ("o1", "o2", "o3"))


RANK_WORKER = """
import json, sys
from dataclasses import asdict
from baselines.train import TrainConfig, run_unlearning
model, out, forget, retain = sys.argv[1:5]
config = TrainConfig(method="gd", learning_rate=1e-3, epochs=1, batch_size=2,
                     gradient_accumulation=1)
report = run_unlearning(config, model, out, forget, retain)
with open(f"{out}.rank{report.rank}.json", "w") as handle:
    json.dump(asdict(report), handle)
"""


def test_two_cpu_ranks_really_run_and_draw_different_retain_samples(splits, tmp_path):
    model, forget, retain = splits
    worker = tmp_path / "worker.py"
    worker.write_text(RANK_WORKER)
    out = tmp_path / "out"
    torchrun = Path(sys.executable).with_name("torchrun")
    result = subprocess.run(
        [
            str(torchrun),
            "--standalone",
            "--nproc_per_node",
            "2",
            str(worker),
            str(model),
            str(out),
            str(forget),
            str(retain),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    reports = [json.loads((tmp_path / f"out.rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["rank"] for r in reports] == [0, 1]
    assert all(r["world_size"] == 2 for r in reports)
    assert reports[0]["steps"] == reports[1]["steps"] > 0
    assert reports[0]["retain_drawn"] != reports[1]["retain_drawn"]
    _assert_complete_checkpoint(out, model)


@pytest.mark.parametrize("method", ["gd", "kl", "npo"])
def test_separate_backward_passes_give_the_gradient_of_the_whole_loss(method, splits):
    """The loop back-propagates the forget and retain terms one at a time (to halve the peak
    of activations); the gradient must be that of the pure loss of ``baselines.losses``."""
    from types import SimpleNamespace

    from accelerate import DistributedType

    from baselines.train import _backward, _forget_term, _retain_term

    model_dir, forget_dir, retain_dir = splits
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    reference = AutoModelForCausalLM.from_pretrained(model_dir).requires_grad_(False)
    pad = tokenizer.eos_token_id

    def batch(directory, split):
        items = load_split(directory, split)[:3]
        return collate([make_example(tokenizer, i, False, 512) for i in items], pad)

    forget, retain = batch(forget_dir, "forget"), batch(retain_dir, "retain")
    forget["index"] = torch.arange(3)
    config = TrainConfig(method=method, alpha=0.7, retain_term=True)
    with torch.no_grad():
        start_logits = model(input_ids=forget["input_ids"]).logits
    ref_log_probs = losses.sequence_log_prob(start_logits, forget["labels"]) - 0.3

    def logits(m, b):
        return m(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits

    if method == "gd":
        whole = losses.gradient_difference(
            logits(model, forget), forget["labels"], logits(model, retain), retain["labels"], 0.7
        )
    elif method == "kl":
        with torch.no_grad():
            ref_retain = logits(reference, retain)
        whole = losses.kl_regularized(
            logits(model, forget), forget["labels"], logits(model, retain), ref_retain,
            retain["labels"], 0.7,
        )  # fmt: skip
    else:
        log_prob = losses.sequence_log_prob(logits(model, forget), forget["labels"])
        whole = losses.npo(log_prob, ref_log_probs, config.beta) + 0.7 * losses.mean_nll(
            logits(model, retain), retain["labels"]
        )
    expected = torch.autograd.grad(whole, list(model.parameters()))

    model.zero_grad()
    accelerator = SimpleNamespace(
        distributed_type=DistributedType.NO, backward=lambda loss: loss.backward()
    )
    _backward(
        accelerator,
        (
            lambda: _forget_term(config, model, forget, ref_log_probs),
            lambda: _retain_term(config, model, reference, retain),
        ),
    )
    for param, want in zip(model.parameters(), expected):
        torch.testing.assert_close(param.grad, want, rtol=1e-4, atol=1e-6)
    assert any(float(g.abs().sum()) > 0 for g in expected)
