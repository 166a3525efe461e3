"""Loading a checkpoint for scoring: safetensors only, device and dtype, neutral decoding
settings, a batch budget within bounds."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import GenerationConfig

from scorer.engine.model import (
    CPU_BATCH_TOKENS,
    LoadedModel,
    auto_batch_tokens,
    load_model,
    resolve_device,
    resolve_dtype,
)
from scorer.errors import ModelError

from scoring import track_paths


def test_dtypes_by_name_and_auto():
    cpu, gpu = torch.device("cpu"), torch.device("cuda")
    assert resolve_dtype("auto", cpu) is torch.float32
    assert resolve_dtype("auto", gpu) is torch.bfloat16  # as the official runs
    assert resolve_dtype("float16", cpu) is torch.float16
    with pytest.raises(ModelError, match="--dtype 'fp8'"):
        resolve_dtype("fp8", cpu)


def test_devices():
    assert resolve_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected


def test_the_model_is_ready_to_score(lm: LoadedModel):
    assert lm.tokenizer.pad_token_id == lm.tokenizer.eos_token_id
    assert not lm.model.training
    assert lm.device == torch.device("cpu")
    assert lm.max_positions == lm.model.config.max_position_embeddings
    assert 1024 <= auto_batch_tokens(lm) <= CPU_BATCH_TOKENS


def _copy(tiny_track: Path, to: Path) -> Path:
    shutil.copytree(track_paths(tiny_track)["model_dir"], to)
    return to


def test_the_checkpoints_generation_config_is_replaced(tiny_track: Path, tmp_path: Path):
    model = _copy(tiny_track, tmp_path / "model")
    (model / "generation_config.json").write_text(
        json.dumps({"repetition_penalty": 3.0, "max_new_tokens": 1, "do_sample": True})
    )
    loaded = load_model(model, "cpu")
    assert loaded.model.generation_config.to_dict() == GenerationConfig().to_dict()


def test_only_safetensors_are_loaded(tiny_track: Path, tmp_path: Path):
    model = _copy(tiny_track, tmp_path / "model")
    weights = load_file(model / "model.safetensors")
    torch.save(weights, model / "pytorch_model.bin")  # a pickle: never opened
    (model / "model.safetensors").unlink()
    with pytest.raises(ModelError, match="cannot load the model"):
        load_model(model, "cpu")


def test_unloadable_checkpoints_are_the_users_error(tiny_track: Path, tmp_path: Path):
    with pytest.raises(ModelError, match="no config.json"):
        load_model(tmp_path, "cpu")
    model = _copy(tiny_track, tmp_path / "model")
    (model / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ModelError, match="cannot load the model"):
        load_model(model, "cpu")
