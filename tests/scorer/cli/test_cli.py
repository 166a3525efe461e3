"""The command lines: help, exit codes, one-line errors, nothing written on bad input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from scorer.data.files import write_items_parquet
from scorer.data.records import Item


def _run(module: str, *args: str) -> subprocess.CompletedProcess:
    code = f"from {module} import main; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=False
    )


@pytest.mark.parametrize(
    ("module", "args"),
    [
        ("scorer.cli", ["--help"]),
        ("scorer.cli", ["evaluate", "--help"]),
        ("starter_kit.cli", ["--help"]),
        ("starter_kit.cli", ["mini", "build", "--help"]),
        ("starter_kit.cli", ["demo", "--help"]),
    ],
)
def test_help_explains_and_exits_zero(module: str, args: list[str]):
    result = _run(module, *args)
    assert result.returncode == 0
    assert "Usage" in result.stdout and len(result.stdout.splitlines()) > 5


def _data_dir(root: Path) -> Path:
    items = []
    for split in ("forget", "retain"):
        for task in ("Task1", "Task2", "Task3"):
            for kind in ("sc1", "qa0"):
                items.append(Item(f"{split}{task}{kind}", "prompt", "answer", task, split))
    write_items_parquet(root / "forget.parquet", [i for i in items if i.split == "forget"])
    write_items_parquet(root / "retain.parquet", [i for i in items if i.split == "retain"])
    return root


def _assert_one_line_error(result: subprocess.CompletedProcess, *needles: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0]


def test_evaluate_missing_data_is_one_line_and_writes_nothing(tmp_path: Path):
    out = tmp_path / "out"
    result = _run(
        "scorer.cli",
        "evaluate",
        str(tmp_path / "model"),
        "--data",
        str(tmp_path / "nope"),
        "--out",
        str(out),
    )
    _assert_one_line_error(result, "nope")
    assert not out.exists()


def test_evaluate_bad_row_names_file_row_and_field(tmp_path: Path):
    data = _data_dir(tmp_path / "data")
    items = [Item("forgetTask1sc1", "prompt", "   ", "Task1", "forget")]
    write_items_parquet(data / "forget.parquet", items)
    out = tmp_path / "out"
    result = _run("scorer.cli", "evaluate", str(tmp_path), "--data", str(data), "--out", str(out))
    _assert_one_line_error(result, "forget.parquet", "row 1", "output")
    assert not out.exists()


def test_evaluate_without_a_model_is_one_line_and_writes_nothing(tmp_path: Path):
    data = _data_dir(tmp_path / "data")
    out = tmp_path / "out"
    result = _run(
        "scorer.cli",
        "evaluate",
        str(tmp_path / "empty"),
        "--data",
        str(data),
        "--out",
        str(out),
    )
    _assert_one_line_error(result, "config.json")
    assert not out.exists()


def test_evaluate_refuses_a_pickle_only_checkpoint(tmp_path: Path):
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text('{"model_type": "olmo"}')
    (model / "pytorch_model.bin").write_bytes(b"not opened")
    data = _data_dir(tmp_path / "data")
    result = _run(
        "scorer.cli",
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


def test_mini_build_rejects_a_missing_source(tmp_path: Path):
    result = _run(
        "starter_kit.cli",
        "mini",
        "build",
        "--out",
        str(tmp_path / "t"),
        "--source",
        str(tmp_path / "nowhere"),
    )
    _assert_one_line_error(result, "nowhere")
    assert not (tmp_path / "t").exists()


def test_evaluate_refuses_data_missing_a_component(tmp_path: Path):
    data = _data_dir(tmp_path / "data")
    items = [
        Item(f"forget{task}{kind}", "prompt", "answer", task, "forget")
        for task in ("Task1", "Task2")
        for kind in ("sc1", "qa0")
    ]
    write_items_parquet(data / "forget.parquet", items)
    result = _run(
        "scorer.cli",
        "evaluate",
        str(tmp_path),
        "--data",
        str(data),
        "--out",
        str(tmp_path / "out"),
    )
    _assert_one_line_error(result, "forget Task3")
    assert not (tmp_path / "out").exists()


def test_baseline_rejects_an_unknown_method_and_missing_data(tmp_path: Path):
    result = _run(
        "starter_kit.cli",
        "baseline",
        "zz",
        "--model",
        str(tmp_path),
        "--data",
        str(tmp_path),
        "--out",
        str(tmp_path / "o"),
    )
    _assert_one_line_error(result, "zz")
    result = _run(
        "starter_kit.cli",
        "baseline",
        "ga",
        "--model",
        str(tmp_path),
        "--data",
        str(tmp_path / "nothing"),
        "--out",
        str(tmp_path / "o"),
    )
    _assert_one_line_error(result, "nothing")
    assert not (tmp_path / "o").exists()


def test_evaluate_refuses_a_truncated_checkpoint(tiny_track: Path, tmp_path: Path):
    import shutil

    model = tmp_path / "model"
    shutil.copytree(tiny_track / "model", model)
    weights = model / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    result = _run(
        "scorer.cli",
        "evaluate",
        str(model),
        "--data",
        str(tiny_track / "dataset"),
        "--out",
        str(tmp_path / "out"),
    )
    _assert_one_line_error(result, "cannot load the model")
    assert not (tmp_path / "out").exists()
