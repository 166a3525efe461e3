"""Bad inputs are refused before the model loads: the command fails on the data, in one
line, even when the model's weights are not there to load (issue 11)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd

from starter_kit.mini.build import read_build

from clis import assert_one_line_error
from scoring import evaluate_args, lume_score, track_paths

ZERO_WIDTH = "\u200b"


def _model_without_weights(model_dir: Path, out: Path) -> Path:
    """The track's tokenizer and config, the tokenizer told to drop zero-width spaces (a
    normalizer, as some real tokenizers have), and no weight file at all."""
    out.mkdir()
    for name in ("config.json", "tokenizer_config.json", "tokenizer.json"):
        shutil.copy(model_dir / name, out / name)
    tokenizer = json.loads((out / "tokenizer.json").read_text())
    tokenizer["normalizer"] = {"type": "Replace", "pattern": {"String": ZERO_WIDTH}, "content": ""}
    (out / "tokenizer.json").write_text(json.dumps(tokenizer))
    return out


def _data_with_an_empty_prompt(data_dir: Path, fold: str, out: Path, row: int) -> Path:
    """The track's data, with forget row ``row`` of ``fold`` made of zero-width spaces."""
    shutil.copytree(data_dir, out)
    path = next(out.rglob(f"forget_{fold}-*.parquet"))
    frame = pd.read_parquet(path)
    frame.loc[row, "input"] = ZERO_WIDTH * 3
    frame.to_parquet(path, index=False)
    return path


def test_a_prompt_with_no_token_is_refused_before_the_model_loads(tiny_track, tmp_path):
    paths = track_paths(tiny_track)
    fold = read_build(tiny_track)["scored_fold"]
    model = _model_without_weights(paths["model_dir"], tmp_path / "model")
    data = tmp_path / "data"
    bad_file = _data_with_an_empty_prompt(paths["data_dir"], fold, data, row=1)  # 0-based
    args = evaluate_args(tiny_track, tmp_path / "out")
    args[1] = str(model)
    args[args.index("--data") + 1] = str(data)

    result = lume_score(*args)

    assert_one_line_error(result, bad_file.name, "row 2 ", "'input'", "gives no token")
    assert not (tmp_path / "out").exists()  # nothing written half-way
