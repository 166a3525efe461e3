"""Where things lie, for tests at any depth of ``tests/``."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TESTS = REPO / "tests"
SUBMISSIONS = TESTS / "submissions"  # hostile and well-behaved submission files
BENCHMARKS = REPO / "benchmarks"
DATA_CARDS = REPO / "data_cards"
