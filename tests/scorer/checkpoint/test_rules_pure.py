"""The rules' pure parts: config and generation-config differences, tensor comparison, progress."""

from __future__ import annotations

from pathlib import Path

import pytest

from scorer.checkpoint.header import TensorInfo
from scorer.checkpoint.limits import MiB
from scorer.checkpoint.report import Violation
from scorer.checkpoint.rules.configs import config_violations, generation_violations
from scorer.checkpoint.rules.tensors import compare_tensors, in_whole_mib, non_finite_message
from scorer.checkpoint.rules.tokenizer import first_difference
from scorer.checkpoint.scan import NonFinite

CONFIG = {"hidden_size": 64, "eos_token_id": 0, "torch_dtype": "float32"}


def test_config_fields_that_do_not_change_the_model_may_differ() -> None:
    ours = {**CONFIG, "torch_dtype": "bfloat16", "use_cache": False, "transformers_version": "9"}
    assert config_violations(ours, CONFIG) == []
    found = config_violations({**CONFIG, "hidden_size": 65.0, "dtype": "int8"}, CONFIG)
    assert [v.message for v in found] == [  # dtype may differ, but only to a float type
        "config.json: hidden_size is 65.0, the reference has 64",
        'config.json: dtype = "int8" is not a float',
    ]
    assert {(v.rule, v.file) for v in found} == {("config", "config.json")}


@pytest.mark.parametrize("value", [["float32"], 32, "int8", "float8_e4m3fn"])
def test_config_dtype_must_be_a_float_type(value: object) -> None:
    (found,) = config_violations({**CONFIG, "torch_dtype": value}, {**CONFIG, "torch_dtype": value})
    assert found.message.startswith("config.json: torch_dtype = ")


def test_generation_config_must_not_steer_decoding() -> None:
    reference = {"eos_token_id": 0, "transformers_version": "4"}
    ours = {"eos_token_id": 0, "transformers_version": "5", "_from_model_config": True}
    assert generation_violations(ours, reference, CONFIG) == []
    (found,) = generation_violations({**ours, "repetition_penalty": 5.0}, reference, CONFIG)
    assert found == Violation(
        "config",
        "generation_config.json",
        "generation_config.json: repetition_penalty is 5.0, the reference has absent",
    )


def test_without_a_reference_generation_config_values_must_equal_config_json_s() -> None:
    assert generation_violations({"eos_token_id": 0}, None, CONFIG) == []
    (changed,) = generation_violations({"eos_token_id": 1}, None, CONFIG)
    assert "eos_token_id is 1, the reference has 0" in changed.message
    (new,) = generation_violations({"do_sample": True}, None, CONFIG)
    assert "do_sample is true, the reference has absent" in new.message


def info(dtype: str, shape: tuple[int, ...] = (2, 2)) -> TensorInfo:
    return TensorInfo(dtype, shape, 0, 0)


REFERENCE = {"w": info("F32"), "ids": info("I64", (3,)), "gone": info("F32")}


def test_floating_tensors_may_change_precision_others_keep_their_dtype() -> None:
    headers = {"a.safetensors": {"w": info("BF16"), "ids": info("I64", (3,))}}
    found = dict.fromkeys(headers["a.safetensors"], "a.safetensors")
    assert compare_tensors(headers, found, REFERENCE, False, {}) == []  # not complete: no missing
    headers = {"a.safetensors": {"w": info("F8_E4M3"), "ids": info("I32", (4,)), "x": info("F32")}}
    found = dict.fromkeys(headers["a.safetensors"], "a.safetensors")
    found_rules = [(v.rule, v.tensor) for v in compare_tensors(headers, found, REFERENCE, True, {})]
    assert found_rules == [
        ("missing-tensor", "gone"),
        ("shape", "ids"),
        ("dtype", "ids"),
        ("dtype", "w"),
        ("extra-tensor", "x"),
    ]


def test_a_missing_tensor_is_blamed_on_the_shard_the_index_names() -> None:
    headers = {"a.safetensors": {"w": info("F32"), "ids": info("I64", (3,))}}
    found = dict.fromkeys(headers["a.safetensors"], "a.safetensors")
    (missing,) = compare_tensors(headers, found, REFERENCE, True, {"gone": "b.safetensors"})
    assert missing.file == "b.safetensors" and missing.tensor == "gone"


def test_non_finite_message_names_counts_and_the_first_position() -> None:
    message = non_finite_message("m.safetensors", "w", (3, 4), NonFinite(nan=2, inf=1, first=6))
    assert message == "m.safetensors: tensor w has 2 NaN and 1 Inf value(s), first at [1, 2]"
    only_inf = non_finite_message("m", "w", (5,), NonFinite(nan=0, inf=1, first=4))
    assert "has 1 Inf value(s), first at [4]" in only_inf


def test_progress_advances_in_whole_mib_counting_the_last_partial_one() -> None:
    advanced: list[int] = []
    step = in_whole_mib(advanced.append)
    for n in (MiB // 2, MiB // 2, 1, 3 * MiB, 10):
        step(n)
    assert advanced == [1, 1, 3]  # 0.5 → 1 MiB, 1.0 → 1, 1.0+1 byte → 2, then 5 MiB
    assert sum(advanced) == 5


def test_first_difference_is_the_first_differing_byte(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_bytes(b"abcdef")
    b.write_bytes(b"abcdef")
    assert first_difference(a, b, chunk=4) is None
    b.write_bytes(b"abcdXf")
    assert first_difference(a, b, chunk=4) == 4
    b.write_bytes(b"abcdefg")  # one is a prefix of the other
    assert first_difference(a, b, chunk=4) == 6
