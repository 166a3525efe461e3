"""On the mini track: the batched engine agrees with the official per-item loop (``--exact``)
on every number of the score, and ``--check-exact`` measures that agreement."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scorer.evaluation.evaluate import evaluate
from scorer.evaluation.settings import EvalSettings

from scoring import track_paths


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
    generations = [json.loads(line)["generation"] for line in exact_items]
    assert [json.loads(line)["generation"] for line in fast_items] == generations
    for key in ("task_aggregate", "mia_auc", "mmlu", "final_score"):  # what the README claims:
        assert fast[key] == exact[key], key  # every number equal, no tolerance
    for split in ("forget", "retain"):
        assert fast[split] == exact[split], split
    assert fast["agreement"]["items"] == 16
    assert fast["agreement"]["fraction_identical"] == 1.0
    assert "agreement" not in exact
    # the bootstrap interval holds the point estimate
    for key in ("task_aggregate", "mia_auc", "mmlu", "final_score"):
        lo, hi = fast["beyond_official"]["bootstrap"][key]
        assert lo <= fast[key] <= hi, key
    # the memorized target is caught by every attack, not only the official loss attack
    attacks = fast["beyond_official"]["mia_attacks"]
    assert attacks["loss"] == fast["mia_auc"]
    assert min(attacks[a] for a in ("min_k", "min_k_plus_plus", "zlib")) > 0.9
    # the reference engine's own attack statistics find the same
    exact_attacks = exact["beyond_official"]["mia_attacks"]
    for name, auc in attacks.items():
        assert exact_attacks[name] == pytest.approx(auc, abs=0.005), name
