"""``lume prepare``: the layout unlearn() receives, per fold; idempotent; refuses to
overwrite different data without --force and a half-downloaded tree (naming the files)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scorer.contract import FOLDS, SPLITS
from scorer.data.lume import load_items, load_lume
from scorer.data.mia import load_mia
from scorer.data.mmlu import load_mmlu
from starter_kit.cli.app import app


def _lume(*args: str):
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})


@pytest.fixture
def root(tiny_track: Path, tmp_path: Path) -> Path:
    """A copy of the tiny track (prepare writes under its root)."""
    copy = tmp_path / "track"
    shutil.copytree(tiny_track, copy, ignore=shutil.ignore_patterns("target_scores"))
    return copy


def test_prepare_writes_each_fold_as_unlearn_receives_it(root: Path, tiny_track: Path):
    result = _lume("prepare", "--track", "mini", "--root", str(root))
    assert result.exit_code == 0, result.output
    out = root / "prepared"
    for fold in FOLDS:
        expected = load_lume(tiny_track / "dataset", fold)
        for split in SPLITS:
            directory = out / fold / split
            assert sorted(p.name for p in directory.iterdir()) == [
                f"{split}.jsonl",
                f"{split}.parquet",
            ]
            lines = (directory / f"{split}.jsonl").read_text().splitlines()
            records = [json.loads(line) for line in lines]  # records, one per line
            assert len(records) == len(expected[split]) > 0
            assert set(records[0]) == {"id", "input", "output", "task", "split"}
            assert load_items(directory / f"{split}.jsonl") == expected[split]
            assert load_items(directory / f"{split}.parquet") == expected[split]
    assert load_mia(out / "mia_data") == load_mia(tiny_track / "dataset" / "mia_data")
    assert load_mmlu(out / "mmlu") == load_mmlu(tiny_track / "mmlu")
    record = json.loads((out / "prepared.json").read_text())
    assert record["counts"]["train"]["forget"] == len(
        load_lume(tiny_track / "dataset", "train")["forget"]
    )
    assert len(record["files"]) == 8 + 2 + 8  # 4 sets x 2 files, MIA, 4 MMLU subjects x 2


def test_prepare_is_idempotent_and_refuses_different_data_without_force(root: Path):
    args = ["prepare", "--track", "mini", "--root", str(root), "--json"]
    first = _lume(*args)
    assert first.exit_code == 0 and json.loads(first.output)["changed"] is True
    target = root / "prepared" / "validation" / "retain" / "retain.jsonl"
    stamp = target.stat().st_mtime_ns
    again = _lume(*args)
    assert again.exit_code == 0 and json.loads(again.output)["changed"] is False
    assert target.stat().st_mtime_ns == stamp  # nothing rewritten
    assert json.loads(again.output)["files"] == json.loads(first.output)["files"]

    original = target.read_bytes()
    target.write_bytes(original[: len(original) // 2])
    refused = _lume(*args)
    assert refused.exit_code == 2
    line = " ".join(refused.output.split())
    assert "differs in validation/retain/retain.jsonl" in line and "--force" in line
    assert target.read_bytes() == original[: len(original) // 2]  # left as it was
    forced = _lume(*args, "--force")
    assert forced.exit_code == 0 and json.loads(forced.output)["changed"] is True
    assert target.read_bytes() == original
    assert not [p for p in root.iterdir() if p.name.startswith(".prepared")]  # no leftovers


def test_prepare_refuses_a_half_downloaded_tree_naming_the_missing_files(
    tiny_track: Path, tmp_path: Path
):
    root = tmp_path / "root"
    result = _lume("download", "--track", "1B", "--root", str(root), "--mirror", str(tiny_track))
    assert result.exit_code == 0, result.output
    (root / "semeval25-unlearning-dataset-public" / "mia_data" / "nonmember.jsonl").unlink()
    shutil.rmtree(root / "mmlu" / "world_zoology")
    result = _lume("prepare", "--track", "1B", "--root", str(root))
    assert result.exit_code == 2
    line = " ".join(result.output.split())
    assert (
        "the download is incomplete, missing mmlu/world_zoology/dev-00000-of-00001.parquet" in line
    )
    assert "semeval25-unlearning-dataset-public/mia_data/nonmember.jsonl" in line
    assert "lume download --track 1B" in line
    assert not (root / "prepared").exists()


def test_prepare_of_a_root_without_the_track_is_one_line(tmp_path: Path):
    result = _lume("prepare", "--track", "mini", "--root", str(tmp_path))
    assert result.exit_code == 2 and "build.json not found" in " ".join(result.output.split())
    result = _lume("prepare", "--track", "1B", "--root", str(tmp_path))
    assert result.exit_code == 2 and "olmo-1B-model-semeval25-unlearning/config.json" in (
        " ".join(result.output.split())
    )
