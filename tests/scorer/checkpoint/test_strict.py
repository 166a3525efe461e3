"""Stricter validation: exact JSON types, the types of the fields that may differ, the
trial forward pass, the scoring dtype's range, the capped report, the tensor-count cap."""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path

import pytest

from scorer.checkpoint.limits import Limits
from scorer.checkpoint.reference import load_reference
from scorer.checkpoint.report import Violation, left_out, shown_violations
from scorer.checkpoint.rules import configs
from scorer.checkpoint.rules.trial import trial_forward
from scorer.checkpoint.validate import validate_checkpoint


def _copy(tiny_track: Path, tmp_path: Path, **changes) -> Path:
    out = tmp_path / "checkpoint"
    shutil.copytree(tiny_track / "model", out)
    config = json.loads((out / "config.json").read_text())
    config.update(changes)
    (out / "config.json").write_text(json.dumps(config))
    return out


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"num_hidden_layers": 1.0}, "num_hidden_layers is 1.0, the reference has 1"),
        ({"use_cache": "yes"}, 'use_cache = "yes" is not of type bool'),
        ({"return_dict": False}, "return_dict must be true for scoring, not false"),
        ({"output_hidden_states": 1}, "output_hidden_states = 1 is not of type bool"),
        ({"transformers_version": 5}, "transformers_version = 5 is not of type str"),
    ],
)
def test_config_values_keep_their_exact_types(tiny_track, tmp_path, changes, message):
    report = validate_checkpoint(_copy(tiny_track, tmp_path, **changes), tiny_track / "model")
    assert [v.rule for v in report.violations] == ["config"]
    assert report.violations[0].message == f"config.json: {message}"


def test_the_trial_runs_the_configuration_forward_and_names_what_breaks(
    tiny_track: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    assert trial_forward(tiny_track / "model") is None
    broken = _copy(tiny_track, tmp_path, return_dict=False)
    assert trial_forward(broken).startswith("AttributeError: 'tuple' object has no attribute")
    monkeypatch.setattr(configs, "MUST_BE", {})  # as if the config rule had missed it
    report = validate_checkpoint(broken, tiny_track / "model", trial=True)
    assert [v.rule for v in report.violations] == ["trial"]
    assert "a forward pass with this configuration fails: AttributeError" in (
        report.violations[0].message
    )
    good = validate_checkpoint(tiny_track / "model", tiny_track / "model", trial=True)
    assert good.ok, good.violations


def test_a_flood_of_empty_tensors_is_refused_before_it_is_parsed(tiny_track, tmp_path):
    """~116k empty tensors: a 21 MB report, 0.7 GB and 9 s before; now one line."""
    out = _copy(tiny_track, tmp_path)
    header = {f"t{i}": {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]} for i in range(5000)}
    raw = json.dumps(header).encode()
    (out / "model.safetensors").write_bytes(struct.pack("<Q", len(raw)) + raw)
    report = validate_checkpoint(out, tiny_track / "model")
    flood = [v for v in report.violations if v.rule == "too-many-tensors"]
    assert len(flood) == 1 and "header of" in flood[0].message
    few = validate_checkpoint(out, tiny_track / "model", Limits(header_bytes_per_tensor=10**6))
    allowed = 2 * len(load_reference(tiny_track / "model").tensors) + 16
    assert [v.message for v in few.violations if v.rule == "too-many-tensors"] == [
        f"model.safetensors: more than {allowed} tensors in its header"
    ]
    assert len(json.dumps(report.to_json())) < 20_000


def test_the_report_shows_the_first_violations_of_each_rule_and_counts_the_rest():
    violations = [Violation("shape", "m", f"t{i}") for i in range(50)]
    violations += [Violation("dtype", "m", "d")]
    shown = shown_violations(violations, per_rule=20)
    assert [v.message for v in shown] == [f"t{i}" for i in range(20)] + ["d"]
    assert left_out(violations, per_rule=20) == {"shape": 30}
