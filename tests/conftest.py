"""Shared pytest fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

PUBLIC_DIR = Path(__file__).resolve().parents[2] / "shared" / "lume-public"


@pytest.fixture(scope="session")
def public_dir() -> Path:
    """The real public LUME splits (outside the repository); skip when absent."""
    if not (PUBLIC_DIR / "data").is_dir():
        pytest.skip(f"public LUME data not found at {PUBLIC_DIR}")
    return PUBLIC_DIR
