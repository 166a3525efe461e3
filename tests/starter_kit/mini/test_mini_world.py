"""The mini world generator and a small build: shapes, formats, determinism (fast)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from scorer.data.lume import load_lume
from scorer.data.mia import load_mia
from scorer.data.mmlu import load_mmlu
from scorer.errors import LumeError
from starter_kit.mini.build import BuildOptions, build_mini_track, build_paths, read_build
from starter_kit.mini.world import generate_world

from tiny import TINY_TARGET, TINY_VOCAB, TINY_WORLD


def test_world_has_the_required_sizes_and_real_answer_formats():
    world = generate_world(0)
    for split in ("forget", "retain"):
        for fold, minimum in (("train", 20), ("validation", 8)):
            docs = world.folds[(split, fold)]
            for task in ("Task1", "Task2", "Task3"):
                assert sum(d.task == task for d in docs) >= minimum
    assert len(world.nonmembers) >= 50 and len(world.folds[("forget", "train")]) >= 50
    assert len(world.utility_test) >= 100
    assert len({q.question.subject for q in world.utility_test}) >= 4

    items = {i.id: i for i in world.items("forget", "train")}
    task2 = [i for i in items.values() if i.task == "Task2"]
    by_suffix = {
        s: [i.output for i in task2 if i.id.endswith(s)]
        for s in ("qa0", "qa1", "qa2", "qa3", "qa4", "sc1")
    }
    assert all(len(v) == 20 for v in by_suffix.values())
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", a) for a in by_suffix["qa0"])
    assert all(re.fullmatch(r"\d{9}", a) for a in by_suffix["qa1"])
    assert all(re.fullmatch(r"\d{10}", a) for a in by_suffix["qa2"])
    assert all(re.fullmatch(r"[a-z]+_[a-z]+@[a-z.]+", a) for a in by_suffix["qa3"])
    # id shapes of the real data: quoted UUIDs (Task1), UUIDs (Task2), numbers (Task3)
    assert all(i.id.startswith('"') for i in items.values() if i.task == "Task1")
    assert all(i.id[:-3].isdigit() for i in items.values() if i.task == "Task3")
    # an sc1 item is the document cut at a space: prompt + " " + continuation
    doc = world.folds[("forget", "train")][0]
    sc = next(i for i in world.items("forget", "train") if i.id == doc.doc_id + "sc1")
    assert sc.input + " " + sc.output == doc.text


def test_world_ids_are_unique_and_nonmembers_are_never_trained():
    world = generate_world(1)
    ids = [
        i.id
        for s in ("forget", "retain")
        for f in ("train", "validation")
        for i in world.items(s, f)
    ]
    assert len(ids) == len(set(ids))
    trained = {d.text for d in world.trained_documents()}
    assert not trained & {d.text for d in world.nonmembers}


def test_same_seed_same_world_other_seed_other_world():
    assert generate_world(3) == generate_world(3)
    assert generate_world(3).folds != generate_world(4).folds


def _small_build(out: Path, seed: int = 0, **kwargs) -> dict:
    options = BuildOptions(
        seed=seed, vocab_size=TINY_VOCAB, target=TINY_TARGET, sizes=TINY_WORLD, **kwargs
    )
    return build_mini_track(out, options)


def _file_bytes(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "build.json"
    }


def test_small_build_is_byte_identical_for_the_same_seed(tmp_path: Path):
    first = _small_build(tmp_path / "a")
    second = _small_build(tmp_path / "b")
    files_a, files_b = _file_bytes(tmp_path / "a"), _file_bytes(tmp_path / "b")
    assert files_a.keys() == files_b.keys()
    # data, tokenizer, weights, scores.json and items.jsonl: the same bytes
    assert [name for name in files_a if files_a[name] != files_b[name]] == []
    assert "model/model.safetensors" in files_a and "target_scores/scores.json" in files_a
    assert first["target_scores"] == second["target_scores"]
    other = _small_build(tmp_path / "c", seed=1)
    assert (
        _file_bytes(tmp_path / "c")["dataset/data/forget_train-00000-of-00001.parquet"]
        != (files_a["dataset/data/forget_train-00000-of-00001.parquet"])
    )
    assert other["seed"] == 1


def test_build_is_laid_out_like_the_hub_and_loads(tmp_path: Path):
    build = _small_build(tmp_path / "track")
    assert read_build(tmp_path / "track") == build
    paths = build_paths(tmp_path / "track", build)
    for fold in ("train", "validation"):
        lume = load_lume(paths["data_dir"], fold)
        assert {i.split for i in lume["forget"]} == {"forget"}
        assert len({i.document_id for i in lume["retain"]}) == 3 * (3 if fold == "train" else 1)
    mia = load_mia(paths["mia_dir"])
    assert len(mia["member"]) == 9 and len(mia["nonmember"]) == 6
    mmlu = load_mmlu(paths["mmlu_dir"])
    assert sum(len(q) for q in mmlu["test"].values()) == 12
    assert sum(len(q) for q in mmlu["dev"].values()) == 8
    model = paths["model_dir"]
    assert (model / "model.safetensors").is_file() and (model / "tokenizer.json").is_file()
    assert not list(model.glob("*.bin"))
    config = json.loads((model / "config.json").read_text())
    assert config["model_type"] == "olmo"
    assert build["sizes"]["mia"] == {"member": 9, "nonmember": 6}
    # no staging directory is left beside the build
    assert sorted(p.name for p in tmp_path.iterdir()) == ["track"]


def test_build_on_a_lume_source_uses_its_items_and_mia(tmp_path: Path, public_dir: Path):
    build = _small_build(tmp_path / "pub", source=public_dir, source_folds=("validation",))
    paths = build_paths(tmp_path / "pub", build)
    ours, theirs = load_lume(paths["data_dir"], "validation"), load_lume(public_dir, "validation")
    assert ours == theirs
    assert build["sizes"]["items"] == {"forget_validation": 254, "retain_validation": 278}
    assert build["sizes"]["mia"] == {"member": 150, "nonmember": 150}
    assert 0.0 <= build["target_scores"]["task_aggregate"] <= 1.0
    assert build["scored_fold"] == "validation"
    with pytest.raises(LumeError, match="train"):
        load_lume(paths["data_dir"], "train")  # only the chosen fold is written
