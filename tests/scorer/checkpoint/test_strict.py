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


def _with_value(checkpoint: Path, value: float) -> str:
    """Put ``value`` (stored as F32, finite) into the first floating tensor; its name."""
    import torch
    from safetensors.torch import load_file, save_file

    tensors = load_file(str(checkpoint / "model.safetensors"))
    name = sorted(n for n, t in tensors.items() if t.is_floating_point())[0]
    tensors[name] = tensors[name].float()
    tensors[name].view(-1)[3] = value
    save_file(tensors, str(checkpoint / "model.safetensors"), metadata={"format": "pt"})
    assert bool(torch.isfinite(tensors[name]).all())
    return name


def test_values_past_float16s_range_are_inf_when_the_scorer_loads_float16(tiny_track, tmp_path):
    """70000 is finite in bf16/fp32 but Inf in fp16 (max 65504): refused when the run scores
    in float16, or when config.json stores float16 (MMLU loads the stored dtype)."""
    reference = tiny_track / "model"
    checkpoint = _copy(tiny_track, tmp_path)
    name = _with_value(checkpoint, 70000.0)
    assert validate_checkpoint(checkpoint, reference).ok  # scored in bf16 / fp32: fine
    asked = validate_checkpoint(checkpoint, reference, scoring_dtypes=("float32", "float16"))
    assert [(v.rule, v.tensor) for v in asked.violations] == [("non-finite", name)]
    message = asked.violations[0].message
    assert f"tensor {name} has 1 Inf value(s), first at [" in message
    assert message.endswith("(scored in float16: a magnitude past 65504 is Inf)")
    config = json.loads((checkpoint / "config.json").read_text())
    (checkpoint / "config.json").write_text(json.dumps({**config, "dtype": "float16"}))
    stored = validate_checkpoint(checkpoint, reference)
    assert [(v.rule, v.tensor) for v in stored.violations] == [("non-finite", name)]
    _with_value(checkpoint, 65504.0)  # the largest float16: still finite there
    assert validate_checkpoint(checkpoint, reference).ok


def test_a_report_read_back_from_the_validators_process_keeps_what_it_left_out():
    from scorer.checkpoint.report import ValidationReport

    violations = [Violation("shape", "m", f"t{i}", f"t{i}") for i in range(50)]
    report = ValidationReport("c", "r", violations, 3, 4, 0.5, ["a note"])
    back = ValidationReport.from_json(json.loads(json.dumps(report.to_json())))
    assert not back.ok and len(back.violations) == 20 and back.omitted == {"shape": 30}
    assert back.to_json() == report.to_json()
    with pytest.raises(KeyError):
        ValidationReport.from_json({"violations": []})
