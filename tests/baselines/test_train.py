"""The one training loop: each method's effect, deadlines, saves, ranks and bad input."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from accelerate import DistributedType
from transformers import AutoModelForCausalLM, AutoTokenizer

from baselines import ga, losses
from baselines.checkpoint import INDEX
from baselines.examples import collate, load_split, make_example
from baselines.methods import METHODS
from baselines.presets import TrainConfig
from baselines.terms import References
from baselines.train import backward_each, run_unlearning
from scorer.data.files import write_items_parquet
from scorer.errors import LumeError

FAST = {"learning_rate": 1e-3, "epochs": 1, "batch_size": 4, "gradient_accumulation": 1}


def test_gradient_ascent_raises_the_forget_nll(splits, tmp_path, nll, complete_checkpoint):
    model, forget, retain = splits
    before = nll(model, forget, "forget")
    report = run_unlearning(
        TrainConfig(method="ga", **FAST), model, tmp_path / "out", forget, retain
    )
    assert report.steps > 0 and report.saves == [report.steps]
    assert nll(tmp_path / "out", forget, "forget") > before + 0.1
    complete_checkpoint(tmp_path / "out", model)


@pytest.mark.parametrize("method", ["gd", "kl", "npo", "simnpo"])
def test_every_method_leaves_a_checkpoint(method, splits, tmp_path, complete_checkpoint):
    model, forget, retain = splits
    run_unlearning(TrainConfig(method=method, **FAST), model, tmp_path / "out", forget, retain)
    complete_checkpoint(tmp_path / "out", model)


# The same method without its retain term: GD and KL are GA plus a retain term; NPO and
# SimNPO switch theirs off.
WITHOUT_RETAIN_TERM = {
    "gd": {"method": "ga"},
    "kl": {"method": "ga"},
    "npo": {"retain_term": False},
    "simnpo": {"retain_term": False},
}


@pytest.mark.slow
@pytest.mark.parametrize("method", ["ga", "gd", "kl", "npo", "simnpo"])
def test_each_method_unlearns_the_forget_answers_and_its_retain_term_spares_retain(
    method, memorized_sets, tmp_path, nll
):
    """On a target that memorized its world, 16 steps at the method's own defaults: the
    forget answers' NLL rises by a clear margin; with a retain term the retain NLL rises
    less than the forget NLL, and less than in the same run without that term."""
    sets = memorized_sets

    def unlearned(name: str, **changes) -> tuple[float, float]:
        config = {"method": method, **METHODS[method].defaults, **FAST, "epochs": 2, **changes}
        out = tmp_path / name
        run_unlearning(TrainConfig(**config), sets.model, out, sets.forget, sets.retain)
        return nll(out, sets.forget, "forget"), nll(out, sets.retain, "retain")

    forget_before, retain_before = (
        nll(sets.model, sets.forget, "forget"),
        nll(sets.model, sets.retain, "retain"),
    )
    assert forget_before < 0.6 and retain_before < 0.6  # memorized: a rise is unlearning
    forget_after, retain_after = unlearned("with")
    forget_rise, retain_rise = forget_after - forget_before, retain_after - retain_before
    assert forget_rise > 0.4, (method, forget_rise)
    if METHODS[method].retain_term is None:
        return
    assert retain_rise < forget_rise - 0.3, (method, forget_rise, retain_rise)
    _forget, retain_without = unlearned("without", **WITHOUT_RETAIN_TERM[method])
    assert retain_after < retain_without - 0.5, (method, retain_after, retain_without)


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


def test_repeated_saves_keep_exactly_one_checkpoint(splits, tmp_path, complete_checkpoint):
    model, forget, retain = splits
    config = TrainConfig(method="ga", save_every=1, **FAST)
    report = run_unlearning(config, model, tmp_path / "out", forget, retain)
    assert len(report.saves) >= 3
    complete_checkpoint(tmp_path / "out", model)


def test_a_near_deadline_still_leaves_a_checkpoint_in_time(splits, tmp_path, complete_checkpoint):
    model, forget, retain = splits
    deadline = time.time() + 8
    config = TrainConfig(method="ga", deadline=deadline, **{**FAST, "epochs": 10_000})
    report = run_unlearning(config, model, tmp_path / "out", forget, retain)
    assert report.stopped_by_deadline
    assert time.time() < deadline
    assert (tmp_path / "out" / INDEX).stat().st_mtime < deadline
    complete_checkpoint(tmp_path / "out", model)


def test_lume_deadline_stops_the_submission_with_a_checkpoint_before_it(
    splits, tmp_path, clean_environment, complete_checkpoint
):
    """The organizer's runner sets only ``LUME_DEADLINE``: the method file's own unlearn(),
    told to train for 10 000 epochs, saves and stops before it."""
    model, forget, retain = splits
    deadline = time.time() + 8
    clean_environment.setenv("LUME_DEADLINE", f"{deadline:.3f}")
    clean_environment.setenv("LUME_BASELINE_PRESET", "mini")
    clean_environment.setenv("LUME_BASELINE_EPOCHS", "10000")
    report = ga.unlearn(model, tmp_path / "out", forget, retain)
    assert report.stopped_by_deadline and report.steps >= 1
    assert report.saves == [report.steps]  # one save: the deadline's
    assert time.time() < deadline
    assert (tmp_path / "out" / INDEX).stat().st_mtime < deadline
    complete_checkpoint(tmp_path / "out", model)


@pytest.mark.parametrize("value", ["tomorrow", "nan", "12:00"])
def test_a_malformed_lume_deadline_is_a_one_line_error(value, splits, tmp_path, clean_environment):
    model, forget, retain = splits
    clean_environment.setenv("LUME_DEADLINE", value)
    with pytest.raises(LumeError) as error:
        run_unlearning(TrainConfig(method="ga", **FAST), model, tmp_path / "out", forget, retain)
    assert str(error.value) == f"LUME_DEADLINE={value!r}: expected a unix time in seconds"
    assert not (tmp_path / "out").exists()  # refused before anything was written


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
from baselines.presets import TrainConfig
from baselines.train import run_unlearning
model, out, forget, retain = sys.argv[1:5]
config = TrainConfig(method="gd", learning_rate=1e-3, epochs=1, batch_size=2,
                     gradient_accumulation=1)
report = run_unlearning(config, model, out, forget, retain)
with open(f"{out}.rank{report.rank}.json", "w") as handle:
    json.dump(asdict(report), handle)
"""


def test_two_cpu_ranks_really_run_and_draw_different_retain_samples(
    splits, tmp_path, complete_checkpoint
):
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
    complete_checkpoint(out, model)


@pytest.mark.parametrize("method", ["gd", "kl", "npo", "simnpo"])
def test_separate_backward_passes_give_the_gradient_of_the_whole_loss(method, splits):
    """The loop back-propagates the forget and retain terms one at a time (to halve the peak
    of activations); the gradient must be that of the pure loss of ``baselines.losses``."""
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
    config = TrainConfig(method=method, alpha=0.7, retain_term=True, simnpo_gamma=0.4)
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
    elif method == "npo":
        log_prob = losses.sequence_log_prob(logits(model, forget), forget["labels"])
        whole = losses.npo(log_prob, ref_log_probs, config.beta) + 0.7 * losses.mean_nll(
            logits(model, retain), retain["labels"]
        )
    else:
        log_prob = losses.sequence_log_prob(logits(model, forget), forget["labels"])
        lengths = (forget["labels"][:, 1:] != losses.IGNORE).sum(-1)
        whole = losses.simnpo(log_prob, lengths, config.simnpo_beta, 0.4) + 0.7 * losses.mean_nll(
            logits(model, retain), retain["labels"]
        )
    expected = torch.autograd.grad(whole, list(model.parameters()))

    model.zero_grad()
    accelerator = SimpleNamespace(
        distributed_type=DistributedType.NO, backward=lambda loss: loss.backward()
    )
    references = References(forget_log_probs=ref_log_probs, model=reference)
    row = METHODS[method]
    backward_each(
        accelerator,
        (
            lambda: row.forget_loss()(config, model, forget, references),
            lambda: row.retain_loss()(config, model, retain, references),
        ),
    )
    for param, want in zip(model.parameters(), expected):
        torch.testing.assert_close(param.grad, want, rtol=1e-4, atol=1e-6)
    assert any(float(g.abs().sum()) > 0 for g in expected)
