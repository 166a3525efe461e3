"""``lume-score evaluate`` on bad input: exit 2, one line naming the fault, nothing written."""

from __future__ import annotations

import json
from pathlib import Path

from scorer.contract import SPLITS, TASKS
from scorer.data.files import write_items_parquet
from scorer.data.records import Item

from clis import assert_one_line_error
from scoring import evaluate_args, lume_score, track_paths


def _data_dir(root: Path) -> Path:
    items = []
    for split in SPLITS:
        for task in TASKS:
            for kind in ("sc1", "qa0"):
                items.append(Item(f"{split}{task}{kind}", "prompt", "answer", task, split))
    write_items_parquet(root / "forget.parquet", [i for i in items if i.split == "forget"])
    write_items_parquet(root / "retain.parquet", [i for i in items if i.split == "retain"])
    return root


def test_evaluate_missing_data_is_one_line_and_writes_nothing(tmp_path: Path):
    out = tmp_path / "out"
    result = lume_score(
        "evaluate",
        str(tmp_path / "model"),
        "--data",
        str(tmp_path / "nope"),
        "--out",
        str(out),
    )
    assert_one_line_error(result, "nope")
    assert not out.exists()


def test_evaluate_bad_row_names_file_row_and_field(tmp_path: Path):
    data = _data_dir(tmp_path / "data")
    items = [Item("forgetTask1sc1", "prompt", "   ", "Task1", "forget")]
    write_items_parquet(data / "forget.parquet", items)
    out = tmp_path / "out"
    result = lume_score("evaluate", str(tmp_path), "--data", str(data), "--out", str(out))
    assert_one_line_error(result, "forget.parquet", "row 1", "output")
    assert not out.exists()


def test_evaluate_without_a_model_is_one_line_and_writes_nothing(tmp_path: Path):
    data = _data_dir(tmp_path / "data")
    out = tmp_path / "out"
    result = lume_score(
        "evaluate",
        str(tmp_path / "empty"),
        "--data",
        str(data),
        "--out",
        str(out),
    )
    assert_one_line_error(result, "config.json")
    assert not out.exists()


def test_evaluate_refuses_a_pickle_only_checkpoint(tmp_path: Path):
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text('{"model_type": "olmo"}')
    (model / "pytorch_model.bin").write_bytes(b"not opened")
    data = _data_dir(tmp_path / "data")
    result = lume_score(
        "evaluate",
        str(model),
        "--data",
        str(data),
        "--out",
        str(tmp_path / "out"),
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_evaluate_refuses_data_missing_a_component(tmp_path: Path):
    data = _data_dir(tmp_path / "data")
    items = [
        Item(f"forget{task}{kind}", "prompt", "answer", task, "forget")
        for task in ("Task1", "Task2")
        for kind in ("sc1", "qa0")
    ]
    write_items_parquet(data / "forget.parquet", items)
    result = lume_score(
        "evaluate",
        str(tmp_path),
        "--data",
        str(data),
        "--out",
        str(tmp_path / "out"),
    )
    assert_one_line_error(result, "forget Task3")
    assert not (tmp_path / "out").exists()


def test_evaluate_refuses_a_truncated_checkpoint(tiny_track: Path, tmp_path: Path):
    import shutil

    model = tmp_path / "model"
    shutil.copytree(tiny_track / "model", model)
    weights = model / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    result = lume_score(
        "evaluate",
        str(model),
        "--data",
        str(tiny_track / "dataset"),
        "--out",
        str(tmp_path / "out"),
    )
    assert_one_line_error(result, "cannot load the model")
    assert not (tmp_path / "out").exists()


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
    explicit = lume_score(*evaluate_args(tiny_track, tmp_path / "e", "--json", *common[:-1]),
                          "--mmlu-threshold", str(build["mmlu_threshold"]))  # fmt: skip
    assert explicit.returncode == 0, explicit.stderr
    assert (tmp_path / "e" / "scores.json").read_bytes() == (
        tmp_path / "t" / "scores.json"
    ).read_bytes()
    missing = CliRunner().invoke(app, ["evaluate", model, "--out", str(tmp_path / "m")])
    assert missing.exit_code == 2 and "--data" in missing.output
    assert not (tmp_path / "m").exists()
