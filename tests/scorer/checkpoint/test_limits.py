"""Size limits: derived from the reference's sizes unless given."""

from __future__ import annotations

from pathlib import Path

from scorer.checkpoint.limits import Limits, MiB, file_limit, total_limit
from scorer.checkpoint.reference import Reference

REFERENCE = Reference(
    path=Path("ref"),
    config={},
    generation_config=None,
    tensors={},
    weight_bytes=1000,
    files={"model.safetensors": 1000, "config.json": 30, "tokenizer.json": 70},
    tokenizer_files=("tokenizer.json",),
    json_files={},
)


def test_default_total_is_the_weights_times_the_factor_plus_other_files_and_slack() -> None:
    assert total_limit(REFERENCE, Limits()) == 2200 + 100 + 4 * MiB
    assert total_limit(REFERENCE, Limits(weight_factor=1.5, other_slack_bytes=0)) == 1600
    assert total_limit(REFERENCE, Limits(total_bytes=5)) == 5


def test_a_weight_file_may_be_the_total_unless_limited() -> None:
    limits = Limits(other_slack_bytes=0)
    assert file_limit("model-00001-of-00002.safetensors", REFERENCE, limits) == 2300
    assert file_limit("model.safetensors", REFERENCE, Limits(weight_file_bytes=9)) == 9


def test_other_files_may_grow_by_the_slack_over_the_reference_s() -> None:
    assert file_limit("config.json", REFERENCE, Limits(other_slack_bytes=4)) == 34
    assert file_limit("README.md", REFERENCE, Limits(other_slack_bytes=4)) == 4  # not in it
    assert file_limit("config.json", REFERENCE, Limits(other_file_bytes=7)) == 7
