"""The tiny track's target, loaded once for the engine tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from scorer.engine.model import LoadedModel, load_model

from scoring import track_paths


@pytest.fixture(scope="module")
def lm(tiny_track: Path) -> LoadedModel:
    return load_model(track_paths(tiny_track)["model_dir"], "cpu")
