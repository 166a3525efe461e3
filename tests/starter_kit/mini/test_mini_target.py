"""The full mini track: the target memorized its world, and the scorer reproduces itself."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scorer.contract import SPLITS, TASKS
from scorer.data.lume import load_lume
from scorer.data.mia import load_mia
from scorer.data.mmlu import load_mmlu
from scorer.engine.batching import encode
from scorer.engine.forward_passes import choose_next_token, token_stats_batch
from scorer.engine.generation import generate
from scorer.engine.model import load_model
from scorer.official.mmlu_prompt import answer_token_ids, mmlu_prompt
from scorer.official.score import ItemResult, component_means, task_aggregate
from starter_kit.cli.app import app as lume_app
from starter_kit.cli.demo import DEMO_METHODS
from starter_kit.mini.build import read_build

from scoring import evaluate_args, lume_score, track_paths

pytestmark = pytest.mark.slow


def test_target_memorized_its_world(mini_track: Path):
    """The numbers of docs/participants.md, on the train fold (the track's: unlearned and scored):
    regurgitation 1.00 on every task, knowledge >= 0.875, MIA AUC 1.00, utility 1.00."""
    build = read_build(mini_track)
    scores = build["target_scores"]
    assert build["scored_fold"] == "train"
    written = json.loads((mini_track / "target_scores" / "scores.json").read_text())
    assert written["folds"] == {"unlearned": "train", "scored": "train"}
    for split in SPLITS:
        for task in TASKS:
            assert scores[split][task]["regurgitation"] == pytest.approx(1.0), (split, task)
            assert scores[split][task]["knowledge"] >= 0.875, (split, task)
    assert scores["mia_auc"] == pytest.approx(1.0)
    assert scores["mmlu"] == pytest.approx(1.0)
    assert build["mmlu_threshold"] == pytest.approx(0.75 * scores["mmlu"])
    sizes = build["sizes"]["documents"]
    assert all(n >= 20 for n in sizes["forget_train"].values())
    assert all(n >= 8 for n in sizes["retain_validation"].values())


def test_evaluate_cli_reproduces_the_build_scores_byte_for_byte(mini_track: Path, tmp_path):
    result = lume_score(*evaluate_args(mini_track, tmp_path / "again"))
    assert result.returncode == 0, result.stderr
    expected = mini_track / "target_scores"
    assert (tmp_path / "again" / "scores.json").read_bytes() == (
        expected / "scores.json"
    ).read_bytes()
    assert (tmp_path / "again" / "items.jsonl").read_bytes() == (
        expected / "items.jsonl"
    ).read_bytes()


def test_items_jsonl_holds_what_the_score_was_computed_from(mini_track: Path):
    scores = json.loads((mini_track / "target_scores" / "scores.json").read_text())
    rows = [json.loads(line) for line in (mini_track / "target_scores" / "items.jsonl").open()]
    scored = read_build(mini_track)["scored_fold"]  # the track's fold
    lume = load_lume(track_paths(mini_track)["data_dir"], scored)
    assert [r["id"] for r in rows] == [i.id for i in lume["forget"] + lume["retain"]]
    assert {"id", "task", "split", "input", "expected", "generation", "score"} <= rows[0].keys()
    means = component_means(ItemResult(r["split"], r["task"], r["kind"], r["score"]) for r in rows)
    assert means["forget"] == scores["forget"] and means["retain"] == scores["retain"]
    assert task_aggregate(means) == scores["task_aggregate"]
    final = (scores["task_aggregate"] + scores["mia_score"] + scores["mmlu"]) / 3
    assert scores["final_score"] == pytest.approx(final)


def test_batched_engine_equals_one_at_a_time(mini_track: Path):
    paths = track_paths(mini_track)
    lm = load_model(paths["model_dir"], "cpu")
    items = [i for s in load_lume(paths["data_dir"], "validation").values() for i in s][::5]
    prompts = [i.input for i in items]
    batched = generate(lm, prompts, max_new_tokens=64)
    singles = [generate(lm, [p], max_new_tokens=64)[0] for p in prompts]
    assert batched == singles
    assert sum(g.strip() != "" for g in batched) == len(batched)

    docs = [d.document for d in load_mia(paths["mia_dir"])["member"][:6]]
    import torch

    stats = token_stats_batch(lm, encode(lm, docs))  # the scorer's MIA pass
    with torch.no_grad():
        for doc, nll in zip(docs, (s.mean_nll for s in stats)):
            ids = lm.tokenizer(doc, return_tensors="pt")["input_ids"]
            assert nll == pytest.approx(lm.model(input_ids=ids, labels=ids).loss.item(), abs=1e-4)

    mmlu = load_mmlu(paths["mmlu_dir"])
    subject = sorted(mmlu["test"])[0]
    questions = mmlu["test"][subject][:8]
    mc_prompts = [
        mmlu_prompt(subject, mmlu["dev"][subject][: k % 6], q) for k, q in enumerate(questions)
    ]
    ids = answer_token_ids(lambda s: lm.tokenizer.encode(s, add_special_tokens=False))
    batched_choice = choose_next_token(lm, mc_prompts, ids)
    single_choice = [choose_next_token(lm, [p], ids)[0] for p in mc_prompts]
    assert batched_choice == single_choice


def test_missing_mia_and_mmlu_are_reported_missing(mini_track: Path, tmp_path: Path):
    paths = track_paths(mini_track)
    result = lume_score(
        "evaluate",
        str(paths["model_dir"]),
        "--data",
        str(paths["data_dir"]),
        "--out",
        str(tmp_path / "partial"),
        "--split",
        "train",
        "--max-new-tokens",
        "48",
    )
    assert result.returncode == 0, result.stderr
    scores = json.loads((tmp_path / "partial" / "scores.json").read_text())
    assert scores["mia_auc"] is None and scores["mmlu"] is None and scores["final_score"] is None
    assert scores["mmlu_passed"] is None
    train = load_lume(paths["data_dir"], "train")
    assert scores["items"] == len(train["forget"]) + len(train["retain"])
    assert scores["retain"]["Task3"]["knowledge"] >= 0.8  # the train fold was memorized too


def _comparison_rows(stdout: str) -> dict[str, list[float]]:
    """The comparison table's rows: model -> its nine numbers (F reg, F kn, R reg, R kn,
    aggregate, MIA AUC, MIA score, MMLU, final), in the order printed."""
    rows = {}
    for line in stdout.splitlines():
        cells = line.split()
        if len(cells) == 10 and all(re.fullmatch(r"\d+\.\d{3}", c) for c in cells[1:]):
            rows[cells[0]] = [float(c) for c in cells[1:]]
    return rows


def _printed_numbers(scores: dict) -> list[float]:
    """What the comparison table shows of a scores.json, unrounded."""

    def mean(split: str, metric: str) -> float:
        return sum(scores[split][task][metric] for task in TASKS) / len(TASKS)

    keys = ("task_aggregate", "mia_auc", "mia_score", "mmlu", "final_score")
    means = [mean(s, m) for s in SPLITS for m in ("regurgitation", "knowledge")]
    return means + [scores[key] for key in keys]


def test_demo_runs_the_baselines_and_scores_everything(mini_track: Path):
    result = CliRunner().invoke(lume_app, ["demo", "--out", str(mini_track)])
    assert result.exit_code == 0, result.output
    assert "reusing" in result.stderr
    demo = mini_track / "demo"
    target = json.loads((demo / "target" / "scores.json").read_text())
    build = read_build(mini_track)
    assert target["mmlu_threshold"] == build["mmlu_threshold"]
    assert target["mmlu_passed"] is True
    assert target["final_score"] == pytest.approx(
        (target["task_aggregate"] + target["mia_score"] + target["mmlu"]) / 3
    )

    def forget_knowledge(scores: dict) -> float:
        return sum(scores["forget"][t]["knowledge"] for t in TASKS) / len(TASKS)

    # the table on stdout (not the progress on stderr): a row per model, in order, each
    # with the numbers of that model's scores.json
    rows = _comparison_rows(result.stdout)
    assert list(rows) == ["target", *(name.upper() for name in DEMO_METHODS)]
    assert set(DEMO_METHODS) >= {"ga", "gd", "kl", "npo"}
    for row, name in zip(rows, ["target", *DEMO_METHODS]):
        scores = json.loads((demo / name / "scores.json").read_text())
        assert rows[row] == pytest.approx(_printed_numbers(scores), abs=0.0005 + 1e-9), name
        if name == "target":
            continue
        assert (demo / name / "model" / "model.safetensors.index.json").is_file()
        # every baseline forgets: forget knowledge well below the target's
        assert forget_knowledge(scores) < forget_knowledge(target) - 0.3, name
