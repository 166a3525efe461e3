"""The phases over either engine: the same records, the agreement check, and a cache that
never hands one engine's results to the other."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from scorer.data.lume import load_lume
from scorer.data.mia import load_mia
from scorer.data.mmlu import load_mmlu
from scorer.data.records import Item, MiaDocument
from scorer.engine.batched import BatchedEngine
from scorer.engine.cache import ResultCache
from scorer.engine.margins import repair_threshold
from scorer.engine.model import LoadedModel, load_model
from scorer.engine.reference import ReferenceEngine, answer_nll_one, generate_one
from scorer.errors import LumeError
from scorer.evaluation.agreement import check_exact
from scorer.evaluation.job import Job
from scorer.evaluation.phases import (
    mmlu_prompts,
    score_items,
    score_items_repaired,
    score_mia,
    score_mmlu,
)
from scorer.evaluation.settings import EvalSettings
from scorer.official.mmlu_prompt import fitted_prompt

from scoring import track_paths
from tiny import PAIRS

ITEMS = [Item(f"r{k}sc1", i, o, "Task1", "forget") for k, (i, o) in enumerate(PAIRS)]


@pytest.fixture(scope="module")
def lm(tiny_track: Path) -> LoadedModel:
    return load_model(track_paths(tiny_track)["model_dir"], "cpu")


def _job(cache_dir: Path | None = None, **settings) -> Job:
    return Job(EvalSettings(**settings), ResultCache(cache_dir))


def test_one_pass_gives_the_official_answer_nll_and_generation(lm: LoadedModel):
    results = score_items(_job(max_new_tokens=12), BatchedEngine(lm, 4096), ITEMS)
    for item, result in zip(ITEMS, results):
        assert result["generation"] == generate_one(lm, item.input, 12)
        official = answer_nll_one(lm, item.input, item.output)
        if official is None:
            assert result["nll"] is None
        else:
            assert result["nll"] == pytest.approx(official, abs=1e-5)
    assert [r["nll"] is None for r in results] == [False, False, False, False, True]
    assert list(results[0]) == ["id", "task", "split", "kind", "input", "expected",
                                "generation", "score", "nll"]  # fmt: skip


def test_both_engines_give_the_same_item_records(lm: LoadedModel):
    job = _job(max_new_tokens=12)
    fast = score_items(job, BatchedEngine(lm, 64), ITEMS)
    slow = score_items(job, ReferenceEngine(lm), ITEMS)
    strip = lambda rows: [{k: v for k, v in r.items() if k != "nll"} for r in rows]  # noqa: E731
    assert strip(fast) == strip(slow)


def test_the_agreement_check_counts_what_differs(lm: LoadedModel, tiny_track: Path):
    items = [i for s in load_lume(track_paths(tiny_track)["data_dir"]).values() for i in s]
    job = _job(max_new_tokens=8, check_exact=5)
    results = score_items(job, BatchedEngine(lm, 4096), items)
    agreement = check_exact(job, ReferenceEngine(lm), items, results)
    assert agreement == {"items": 5, "identical_generations": 5, "fraction_identical": 1.0,
                         "max_item_score_difference": 0.0}  # fmt: skip
    tampered = [dict(r, generation="something else", score=r["score"] + 0.25) for r in results]
    agreement = check_exact(job, ReferenceEngine(lm), items, tampered)
    assert agreement["identical_generations"] == 0
    assert agreement["max_item_score_difference"] == pytest.approx(0.25)
    everything = check_exact(replace(job, settings=EvalSettings(max_new_tokens=8, check_exact=999)),
                             ReferenceEngine(lm), items, results)  # fmt: skip
    assert everything["items"] == len(items)


def test_both_engines_give_the_same_mia_and_mmlu(lm: LoadedModel, tiny_track: Path):
    paths = track_paths(tiny_track)
    mia, mmlu = load_mia(paths["mia_dir"]), load_mmlu(paths["mmlu_dir"])
    job = _job()
    (fast, fast_rows), (slow, slow_rows) = (
        score_mia(job, engine, mia) for engine in (BatchedEngine(lm, 256), ReferenceEngine(lm))
    )
    assert fast["auc"] == slow["auc"] and fast["members"] == len(mia["member"])
    assert [r["id"] for r in fast_rows] == [r["id"] for r in slow_rows]
    for a, b in zip(fast_rows, slow_rows):
        assert a.keys() == b.keys()
        assert a["member"] == b["member"]
        assert a["nll"] == pytest.approx(b["nll"], abs=1e-5)
    fast_mmlu = score_mmlu(job, BatchedEngine(lm, 256), mmlu)
    assert fast_mmlu == score_mmlu(job, ReferenceEngine(lm), mmlu)
    assert fast_mmlu["questions"] == sum(len(q) for q in mmlu["test"].values())


@torch.inference_mode()
def _official_nll(lm: LoadedModel, text: str) -> float:
    """The official script's loss attack: the model's own mean NLL of the whole document."""
    ids = lm.tokenizer(text, return_tensors="pt")["input_ids"]
    return float(lm.model(input_ids=ids, labels=ids).loss)


def test_the_mia_auc_is_scikit_learns_with_members_positive(lm: LoadedModel, tiny_track: Path):
    """The direction of the AUC, checked apart from ``score_mia``: scikit-learn's
    ``roc_auc_score`` (the official script's) with members labelled 1 and scored by -NLL (a
    member is more likely), on NLLs from the model's own loss. The members are chosen as
    the likeliest documents, so the AUC is far from 0.5 and a flipped direction (1 - AUC)
    cannot pass; the MIA score, symmetric in the AUC, would not show it."""
    from sklearn.metrics import roc_auc_score

    mia = load_mia(track_paths(tiny_track)["mia_dir"])
    docs = sorted(mia["member"] + mia["nonmember"], key=lambda d: _official_nll(lm, d.document))
    cut = 2 * len(docs) // 3
    # the likeliest two thirds are members, but for one pair swapped across the cut
    chosen = {"member": docs[: cut - 1] + docs[cut : cut + 1],
              "nonmember": docs[cut - 1 : cut] + docs[cut + 1 :]}  # fmt: skip
    labels = [1] * len(chosen["member"]) + [0] * len(chosen["nonmember"])
    nlls = [_official_nll(lm, d.document) for d in chosen["member"] + chosen["nonmember"]]
    expected = roc_auc_score(labels, [-x for x in nlls])
    assert 0.75 < expected < 1.0  # clearly one way (1 - 1/pairs), not perfect
    for engine in (BatchedEngine(lm, 256), ReferenceEngine(lm)):
        summary, rows = score_mia(_job(), engine, chosen)
        assert summary["auc"] == pytest.approx(expected, abs=1e-12)
        assert summary["member_mean_nll"] < summary["nonmember_mean_nll"]
        assert [r["member"] for r in rows] == [bool(x) for x in labels]
        assert [r["nll"] for r in rows] == pytest.approx(nlls, abs=1e-5)


def test_an_mia_document_needs_two_tokens(lm: LoadedModel):
    mia = {"member": [MiaDocument("m", "x")], "nonmember": [MiaDocument("n", "y z w")]}
    for engine in (BatchedEngine(lm, 256), ReferenceEngine(lm)):
        with pytest.raises(LumeError, match="fewer than 2 tokens"):
            score_mia(_job(), engine, mia)


def test_mmlu_prompts_share_their_prefix_and_drop_shots_to_fit(lm: LoadedModel, tiny_track):
    mmlu = load_mmlu(track_paths(tiny_track)["mmlu_dir"])
    prompts, answers, shots = mmlu_prompts(lm.tokenizer, mmlu, 5, 2048)
    asked = [(s, q) for s, qs in mmlu["test"].items() for q in qs]
    assert answers == [q.answer for _, q in asked]
    assert shots == [len(mmlu["dev"][s]) for s, _ in asked]  # every shot fits
    assert all(p.text.startswith(p.shared_prefix) for p in prompts)
    assert len({p.shared_prefix for p in prompts}) == len(mmlu["test"])  # one per subject

    count = lambda t: len(lm.tokenizer(t, add_special_tokens=False)["input_ids"])  # noqa: E731
    limit = max(count(p.text) for p in prompts) - 1  # the longest prompt loses a shot
    fitted, _, fewer = mmlu_prompts(lm.tokenizer, mmlu, 5, limit)
    assert sum(fewer) < sum(shots)
    for (subject, q), prompt, k in zip(asked, fitted, fewer):
        assert (prompt.text, k) == fitted_prompt(subject, mmlu["dev"][subject], q, 5, count, limit)
        assert prompt.text.startswith(prompt.shared_prefix)


def _poison(cache_dir: Path) -> None:
    """Every cached item generation becomes POISON, every cached document NLL 123."""
    for entry in cache_dir.glob("*/*.json"):
        record = json.loads(entry.read_text())
        if entry.parent.name == "items":
            record["result"] = [["POISON", None]] * len(record["result"])
        else:
            record["result"] = [dict(r, nll=123.0) for r in record["result"]]
        entry.write_text(json.dumps(record))


def test_one_engines_results_are_never_reused_by_the_other(lm, tiny_track, tmp_path: Path):
    mia = load_mia(track_paths(tiny_track)["mia_dir"])
    mia = {"member": mia["member"][:2], "nonmember": mia["nonmember"][:2]}
    job = _job(tmp_path, max_new_tokens=4)
    batched, exact = BatchedEngine(lm, 4096), ReferenceEngine(lm)
    score_items(job, batched, ITEMS)
    score_mia(job, batched, mia)
    assert {p.name for p in tmp_path.iterdir()} == {"items", "MIA"}
    _poison(tmp_path)
    # the cache is really read: the same engine gets the poisoned entries back
    assert {r["generation"] for r in score_items(job, batched, ITEMS)} == {"POISON"}
    assert {r["nll"] for r in score_mia(job, batched, mia)[1]} == {123.0}
    # the other engine computes its own, items and MIA alike
    assert "POISON" not in {r["generation"] for r in score_items(job, exact, ITEMS)}
    assert 123.0 not in {r["nll"] for r in score_mia(job, exact, mia)[1]}


def _engine(lm: LoadedModel, margins: list, right: set[int]):
    """An engine that gives the per-item loop's results for the rows in ``right``, "WRONG"
    for the others, and ``margins`` (eps x max|logit|; None: no step)."""
    from dataclasses import dataclass

    from scorer.engine.workplan import Batch, Work, one_each

    @dataclass(frozen=True)
    class Doubtful:
        lm: LoadedModel
        name = "doubtful"

        def answer_items(self, pairs, max_new_tokens):
            def compute(batch: Batch) -> list:
                return [
                    [
                        generate_one(lm, pairs[i][0], max_new_tokens),
                        answer_nll_one(lm, *pairs[i]),
                        margins[i],
                    ]  # fmt: skip
                    if i in right
                    else ["WRONG", 0.5, margins[i]]
                    for i in batch.indices
                ]

            return Work(self.name, one_each(len(pairs)), compute)

    return Doubtful(lm)


MARGINS = [0.0, 1e9, 1.0, 2e9, None]  # the threshold (60 in fp32 on CPU) doubts rows 0 and 2


def _exact(lm: LoadedModel, k: int) -> tuple[str, float | None]:
    return generate_one(lm, ITEMS[k].input, 12), answer_nll_one(lm, ITEMS[k].input, ITEMS[k].output)


def test_rows_under_the_margin_threshold_are_generated_again_by_the_per_item_loop(
    lm: LoadedModel,
):
    engine = _engine(lm, MARGINS, right={1, 3, 4})
    records, repair = score_items_repaired(_job(max_new_tokens=12), engine,
                                           ReferenceEngine(lm), ITEMS)  # fmt: skip
    threshold = repair_threshold(torch.float32, "cpu")
    assert 1.0 < threshold < 1e9
    # rows 0 and 2, and the two probes (1 and 3, nearest a tie above it), which agreed
    assert repair == {"method": "per-item loop for rows under the threshold", "items": 5,
                      "doubtful": 2, "regenerated": 4, "threshold": threshold,
                      "unit": "eps x max|logit|", "dtype": "float32", "calibrated": True,
                      "batches": "padded", "probes": 2, "probes_differed": 0}  # fmt: skip
    assert "WRONG" not in {r["generation"] for r in records}
    for k in range(5):
        assert (records[k]["generation"], records[k]["nll"]) == _exact(lm, k)


def test_a_probe_that_differs_falls_back_to_the_cautious_threshold(
    lm: LoadedModel, monkeypatch: pytest.MonkeyPatch
):
    from scorer.engine import margins

    monkeypatch.setitem(margins.UNMEASURED, "float32", 1.5e9)  # cautious: under 3e9 units
    engine = _engine(lm, MARGINS, right={3, 4})  # probe row 1 is wrong: the bound failed
    records, repair = score_items_repaired(_job(max_new_tokens=12), engine,
                                           ReferenceEngine(lm), ITEMS)  # fmt: skip
    assert (repair["probes"], repair["probes_differed"], repair["calibrated"]) == (2, 1, False)
    assert repair["threshold"] == margins.SAFETY * 1.5e9
    assert repair["regenerated"] == 4  # 0, 2, the probes 1 and 3; row 4 ran no step
    assert [r["generation"] == "WRONG" for r in records] == [False] * 5
    for k in range(4):
        assert (records[k]["generation"], records[k]["nll"]) == _exact(lm, k)


def test_without_the_repair_the_doubtful_rows_are_only_counted(lm: LoadedModel):
    engine = _engine(lm, MARGINS, right=set())
    records, repair = score_items_repaired(_job(max_new_tokens=12), engine,
                                           ReferenceEngine(lm), ITEMS, repair=False)  # fmt: skip
    assert (repair["method"], repair["doubtful"], repair["regenerated"]) == ("off", 2, 0)
    assert {r["generation"] for r in records} == {"WRONG"}
