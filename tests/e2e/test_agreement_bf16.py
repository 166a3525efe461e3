"""In bf16, where padding changes the rounding, the batched engine (attention by row,
margin repair) gives the per-item loop's generations, answer NLLs and MIA statistics (the
full numbers, over six checkpoints, are in ``benchmarks/bench_agreement.py``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scorer.data.lume import load_lume
from scorer.data.mia import load_mia
from scorer.engine.batched import BatchedEngine
from scorer.engine.margins import PROBES
from scorer.engine.model import auto_batch_tokens, load_model
from scorer.engine.reference import ReferenceEngine
from scorer.evaluation.evaluate import evaluate
from scorer.evaluation.settings import EvalSettings

from scoring import computed, track_paths


def _generations(out: Path) -> list[str]:
    return [
        json.loads(line)["generation"] for line in (out / "items.jsonl").read_text().splitlines()
    ]


@pytest.mark.slow
def test_bf16_batched_with_repair_agrees_with_the_per_item_loop(tiny_track: Path, tmp_path: Path):
    p = track_paths(tiny_track)
    common = dict(dtype="bfloat16", device="cpu", bootstrap=0, max_new_tokens=48)
    fast = evaluate(p["model_dir"], p["data_dir"], tmp_path / "fast", mmlu_dir=p["mmlu_dir"],
                    settings=EvalSettings(**common))  # fmt: skip
    # MMLU as open-instruct ran it: the checkpoint's stored dtype, the model loaded again
    assert fast["dtypes"] == {"items": "bfloat16", "mia": "bfloat16", "mmlu": "float32"}
    exact = evaluate(p["model_dir"], p["data_dir"], tmp_path / "exact",
                     settings=EvalSettings(exact=True, **common))  # fmt: skip
    repair = fast["repair"]
    assert (repair["dtype"], repair["batches"]) == ("bfloat16", "by row")
    assert "repair" not in exact and fast["settings"]["repair"] is True
    if repair["calibrated"]:  # the bound held here: only the probes went to the slow loop
        assert repair["regenerated"] == repair["probes"] + repair["doubtful"] <= PROBES
    # every generation and every component is the per-item loop's (bit-exact bf16 rows on
    # CPU; elsewhere, a probe that differs sends every near-tie to the per-item loop)
    assert _generations(tmp_path / "fast") == _generations(tmp_path / "exact")
    for split in ("forget", "retain"):
        assert fast[split] == exact[split]


@pytest.mark.slow
def test_bf16_nlls_by_row_are_the_per_item_loops_where_padding_is_not(mini_track: Path):
    """The mini target in bf16: every MIA document's official NLL and every answer's NLL
    from batches attended by row has the per-item loop's bits; the padded batches' do not
    (so the comparison can fail)."""
    p = track_paths(mini_track)
    lm = load_model(p["model_dir"], "cpu", "bfloat16")
    budget = auto_batch_tokens(lm)
    mia = load_mia(p["mia_dir"])
    texts = [d.document for d in mia["member"] + mia["nonmember"]]
    exact = [s.mean_nll for s in computed(ReferenceEngine(lm).document_stats(texts))]
    by_row = computed(BatchedEngine(lm, budget, "by row").document_stats(texts))
    padded = computed(BatchedEngine(lm, budget, "padded").document_stats(texts))
    assert [s.mean_nll for s in by_row] == exact
    assert sum(s.mean_nll != e for s, e in zip(padded, exact)) > len(texts) // 10
    lume = load_lume(p["data_dir"], "validation")
    pairs = [(i.input, i.output) for i in lume["forget"] + lume["retain"]]
    official = [r[1] for r in computed(ReferenceEngine(lm).answer_items(pairs, 1))]
    by_row_items = computed(BatchedEngine(lm, budget, "by row").answer_items(pairs, 1))
    assert [r[1] for r in by_row_items] == official
