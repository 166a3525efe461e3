"""Shared pytest fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

PUBLIC_DIR = Path(__file__).resolve().parents[2] / "shared" / "lume-public"


@pytest.fixture(scope="session")
def public_dir() -> Path:
    """The real public LUME splits (outside the repository).

    Absent data skips the test on a developer's machine but fails it in CI, where
    ``../shared`` is always present: a skip there would pose as coverage.
    """
    if not (PUBLIC_DIR / "data").is_dir():
        message = f"public LUME data not found at {PUBLIC_DIR}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return PUBLIC_DIR


@pytest.fixture(scope="session")
def mini_track(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default mini track (seed 0), built once per test session (a few CPU minutes)."""
    from starter_kit.mini.build import build_mini_track

    out = tmp_path_factory.mktemp("mini") / "track"
    build_mini_track(out)
    return out


@pytest.fixture(scope="session")
def tiny_track(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small mini track with a tiny, barely trained target (seconds to build)."""
    from starter_kit.mini.build import BuildOptions, build_mini_track

    from tiny import TINY_TARGET, TINY_VOCAB, TINY_WORLD

    out = tmp_path_factory.mktemp("tiny") / "track"
    build_mini_track(out, BuildOptions(vocab_size=TINY_VOCAB, target=TINY_TARGET, sizes=TINY_WORLD))
    return out
