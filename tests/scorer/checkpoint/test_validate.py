"""Checkpoint validation: one hostile checkpoint per test, each damaged copy of the tiny target."""

from __future__ import annotations

import ctypes
import json
import os
import pickle
import re
import shutil
import struct
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file
from typer.testing import CliRunner

from scorer.checkpoint import validate
from scorer.checkpoint.header import read_header
from scorer.checkpoint.limits import Limits
from scorer.checkpoint.validate import validate_checkpoint
from scorer.cli.app import app
from scorer.errors import LumeError

EMBED = "model.embed_tokens.weight"


@pytest.fixture
def reference(tiny_track: Path) -> Path:
    return tiny_track / "model"


@pytest.fixture
def ckpt(reference: Path, tmp_path: Path) -> Path:
    out = tmp_path / "ckpt"
    shutil.copytree(reference, out)
    return out


def rules(report) -> list[str]:
    return sorted(v.rule for v in report.violations)


def only(report, rule: str):
    """The one violation of ``rule`` (and assert there is no other kind)."""
    assert {v.rule for v in report.violations} == {rule}, report.violations
    (found,) = report.violations
    return found


def rewrite(path: Path, change) -> None:
    """Load our own (trusted) safetensors file, change its tensors, save it back."""
    tensors = change(load_file(str(path)))
    save_file(tensors, str(path), metadata={"format": "pt"})


def edit_json(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data, indent=2))


class WritesMarker:
    """Unpickling this writes a file: proof that a loader ran attacker-chosen code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class OpenWatch:
    """Linux inotify on some files: which of them anything opened, in any language or process."""

    IN_ACCESS, IN_OPEN = 0x1, 0x20

    def __init__(self, paths: list[Path]) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        self.fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        assert self.fd >= 0, os.strerror(ctypes.get_errno())
        self.names: dict[int, str] = {}
        for path in paths:
            wd = libc.inotify_add_watch(self.fd, os.fsencode(path), self.IN_OPEN | self.IN_ACCESS)
            assert wd >= 0, os.strerror(ctypes.get_errno())
            self.names[wd] = path.name

    def __enter__(self) -> OpenWatch:
        return self

    def __exit__(self, *_exc) -> None:
        os.close(self.fd)

    def opened(self) -> set[str]:
        """The names opened or read since the last call."""
        found = set()
        while True:
            try:
                data = os.read(self.fd, 4096)
            except BlockingIOError:
                return found
            offset = 0
            while offset < len(data):
                wd, _mask, _cookie, length = struct.unpack_from("iIII", data, offset)
                found.add(self.names[wd])
                offset += 16 + length


def test_untouched_copy_is_valid_and_every_value_was_read(ckpt: Path, reference: Path) -> None:
    report = validate_checkpoint(ckpt, reference)
    assert report.ok and report.violations == [] and report.notes == []
    tensors = read_header(reference / "model.safetensors")
    assert report.tensors_checked == len(tensors) > 0
    assert report.bytes_checked == sum(t.end - t.start for t in tensors.values())
    result = CliRunner().invoke(app, ["validate", str(ckpt), "--reference", str(reference)])
    assert result.exit_code == 0, result.output
    assert "valid" in result.output and "INVALID" not in result.output


def test_pickle_payload_is_refused_without_being_opened(
    ckpt: Path, reference: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    live = tmp_path / "payload-is-live"
    pickle.loads(pickle.dumps(WritesMarker(live)))  # the payload does write when unpickled
    assert live.exists()
    marker = tmp_path / "pwned"
    payloads = [ckpt / "pytorch_model.bin", ckpt / "training_args.bin"]
    for payload in payloads:
        payload.write_bytes(pickle.dumps(WritesMarker(marker)))

    def forbidden(*_args, **_kwargs):
        raise AssertionError("validation must never unpickle anything")

    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(torch, "load", forbidden)
    if sys.platform.startswith("linux"):  # the kernel sees every open, native code's too
        with OpenWatch(payloads) as watch:
            payloads[0].read_bytes()
            assert watch.opened() == {"pytorch_model.bin"}  # the watch does see an open
            report = validate_checkpoint(ckpt, reference)
            assert watch.opened() == set()  # neither payload was opened, let alone unpickled
    else:
        report = validate_checkpoint(ckpt, reference)
    assert not marker.exists()
    assert rules(report) == ["pickle-file", "pickle-file"]
    assert [v.file for v in report.violations] == ["pytorch_model.bin", "training_args.bin"]
    assert all(v.file in v.message for v in report.violations)


def test_symlink_to_a_file_outside_is_refused(ckpt: Path, reference: Path, tmp_path: Path) -> None:
    outside = tmp_path / "secret.txt"
    outside.write_text("not yours")
    (ckpt / "README.md").symlink_to(outside)
    found = only(validate_checkpoint(ckpt, reference), "symlink")
    assert found.file == "README.md" and str(outside) in found.message


def test_symlinked_weights_are_refused_and_not_read(
    ckpt: Path, reference: Path, tmp_path: Path
) -> None:
    moved = tmp_path / "elsewhere.safetensors"
    (ckpt / "model.safetensors").rename(moved)
    (ckpt / "model.safetensors").symlink_to(moved)
    report = validate_checkpoint(ckpt, reference)
    assert rules(report) == ["missing-file", "symlink"]
    assert report.tensors_checked == 0


def test_sub_directory_is_refused(ckpt: Path, reference: Path) -> None:
    (ckpt / "checkpoint-500").mkdir()
    found = only(validate_checkpoint(ckpt, reference), "unexpected-file")
    assert found.file == "checkpoint-500" and "sub-directory" in found.message


def _shard(ckpt: Path, names: tuple[str, str] = ("a", "b")) -> dict[str, str]:
    """Split model.safetensors into two shards + an index; returns the weight map."""
    tensors = load_file(str(ckpt / "model.safetensors"))
    (ckpt / "model.safetensors").unlink()
    keys = sorted(tensors)
    halves = {names[0]: keys[: len(keys) // 2], names[1]: keys[len(keys) // 2 :]}
    weight_map = {}
    for i, (_, part) in enumerate(halves.items()):
        shard = f"model-{i + 1:05d}-of-00002.safetensors"
        save_file({k: tensors[k] for k in part}, str(ckpt / shard), metadata={"format": "pt"})
        weight_map.update(dict.fromkeys(part, shard))
    index = {"metadata": {"total_size": 0}, "weight_map": weight_map}
    (ckpt / "model.safetensors.index.json").write_text(json.dumps(index))
    return weight_map


def test_sharded_checkpoint_is_valid(ckpt: Path, reference: Path) -> None:
    _shard(ckpt)
    report = validate_checkpoint(ckpt, reference)
    assert report.ok, report.violations
    assert report.tensors_checked == len(read_header(reference / "model.safetensors"))


def test_shard_left_by_a_killed_save_is_a_note(ckpt: Path, reference: Path) -> None:
    _shard(ckpt)
    (ckpt / "model-00001-of-00003.safetensors").write_bytes(b"\x10\x00\x00")  # partial
    report = validate_checkpoint(ckpt, reference)
    assert report.ok, report.violations
    assert len(report.notes) == 1 and "model-00001-of-00003.safetensors" in report.notes[0]


def test_index_naming_a_path_outside_is_refused(
    ckpt: Path, reference: Path, tmp_path: Path
) -> None:
    weight_map = _shard(ckpt)
    outside = tmp_path / "outside.safetensors"
    shutil.move(ckpt / "model-00002-of-00002.safetensors", outside)
    moved = [t for t, s in weight_map.items() if s == "model-00002-of-00002.safetensors"]
    for tensor in moved:
        weight_map[tensor] = "../outside.safetensors"
    (ckpt / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    report = validate_checkpoint(ckpt, reference)
    escapes = [v for v in report.violations if v.rule == "path-escape"]
    assert len(escapes) == 1 and "../outside.safetensors" in escapes[0].message
    missing = sorted(v.tensor for v in report.violations if v.rule == "missing-tensor")
    assert missing == sorted(moved)  # what the escaping shard held counts as missing


def test_index_naming_a_tensor_twice_or_in_the_wrong_shard(ckpt: Path, reference: Path) -> None:
    weight_map = _shard(ckpt)
    first = "model-00001-of-00002.safetensors"
    tensor = next(t for t, s in weight_map.items() if s != first)
    rewrite(ckpt / first, lambda t: {**t, tensor: torch.zeros(read_shape(reference, tensor))})
    report = validate_checkpoint(ckpt, reference)
    assert {v.rule for v in report.violations} == {"index"}
    assert any(v.tensor == tensor and "also in" in v.message for v in report.violations)


def read_shape(reference: Path, tensor: str) -> tuple[int, ...]:
    return read_header(reference / "model.safetensors")[tensor].shape


@pytest.mark.parametrize(("value", "word"), [(float("nan"), "NaN"), (float("inf"), "Inf")])
def test_non_finite_tensor_is_named_with_count_and_place(
    ckpt: Path, reference: Path, value: float, word: str
) -> None:
    def damage(tensors):
        tensors[EMBED][3, 5] = value
        tensors[EMBED][7, 0] = value
        return tensors

    rewrite(ckpt / "model.safetensors", damage)
    found = only(validate_checkpoint(ckpt, reference), "non-finite")
    assert found.tensor == EMBED and found.file == "model.safetensors"
    assert f"2 {word}" in found.message and "first at [3, 5]" in found.message
    assert EMBED in found.message


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16, torch.float64])
def test_nan_at_a_chunk_edge_in_any_float_dtype(
    ckpt: Path, reference: Path, dtype: torch.dtype
) -> None:
    def damage(tensors):
        tensors = {k: v.to(dtype) for k, v in tensors.items()}
        flat = tensors[EMBED].view(-1)
        flat[-1] = float("nan")  # the very last value, in the last (partial) chunk
        flat[64] = float("-inf")  # the first value of the second chunk
        return tensors

    rewrite(ckpt / "model.safetensors", damage)
    width = torch.tensor([], dtype=dtype).element_size()
    report = validate_checkpoint(ckpt, reference, Limits(chunk_bytes=64 * width))
    found = only(report, "non-finite")
    cols = read_shape(reference, EMBED)[1]
    assert (
        "1 NaN and 1 Inf" in found.message
        and f"first at [{64 // cols}, {64 % cols}]" in found.message
    )
    assert report.tensors_checked == len(read_header(reference / "model.safetensors"))


def test_default_size_limit_is_derived_from_the_reference(ckpt: Path, reference: Path) -> None:
    rewrite(ckpt / "model.safetensors", lambda t: {k: v.to(torch.float64) for k, v in t.items()})
    tight = Limits(other_slack_bytes=0)  # no slack: the limit is 2.2x the reference's weights
    assert validate_checkpoint(ckpt, reference, tight).ok  # twice the bytes still passes
    report = validate_checkpoint(ckpt, reference, Limits(other_slack_bytes=0, weight_factor=1.5))
    assert {v.rule for v in report.violations} == {"size"}
    assert report.tensors_checked == 0  # over the total: the values are not read


def test_size_limits_are_configurable_and_big_files_are_not_read(
    ckpt: Path, reference: Path
) -> None:
    size = (ckpt / "model.safetensors").stat().st_size
    report = validate_checkpoint(ckpt, reference, Limits(weight_file_bytes=size - 1))
    found = only(report, "size")
    assert found.file == "model.safetensors" and str(size) in found.message
    assert report.tensors_checked == 0
    total = validate_checkpoint(ckpt, reference, Limits(total_bytes=size))
    assert only(total, "size").file == "" and total.tensors_checked == 0


def test_missing_tensor(ckpt: Path, reference: Path) -> None:
    rewrite(ckpt / "model.safetensors", lambda t: {k: v for k, v in t.items() if k != EMBED})
    found = only(validate_checkpoint(ckpt, reference), "missing-tensor")
    assert found.tensor == EMBED and EMBED in found.message


def test_extra_tensor(ckpt: Path, reference: Path) -> None:
    rewrite(ckpt / "model.safetensors", lambda t: {**t, "backdoor.weight": torch.zeros(2, 2)})
    found = only(validate_checkpoint(ckpt, reference), "extra-tensor")
    assert found.tensor == "backdoor.weight" and "backdoor.weight" in found.message


def test_wrong_shape(ckpt: Path, reference: Path) -> None:
    rewrite(ckpt / "model.safetensors", lambda t: {**t, EMBED: t[EMBED][:-1].clone()})
    found = only(validate_checkpoint(ckpt, reference), "shape")
    rows, cols = read_shape(reference, EMBED)
    assert found.tensor == EMBED and f"[{rows - 1}, {cols}]" in found.message
    assert f"[{rows}, {cols}]" in found.message


def test_integer_dtype_is_refused(ckpt: Path, reference: Path) -> None:
    rewrite(ckpt / "model.safetensors", lambda t: {**t, EMBED: t[EMBED].to(torch.int32)})
    found = only(validate_checkpoint(ckpt, reference), "dtype")
    assert found.tensor == EMBED and "I32" in found.message


def test_bf16_checkpoint_of_an_fp32_reference_is_valid(ckpt: Path, reference: Path) -> None:
    rewrite(ckpt / "model.safetensors", lambda t: {k: v.bfloat16() for k, v in t.items()})
    edit_json(ckpt / "config.json", lambda c: c.update(dtype="bfloat16"))
    assert validate_checkpoint(ckpt, reference).ok


@pytest.mark.parametrize("file", ["config.json", "tokenizer_config.json"])
def test_remote_code_hook_is_refused(ckpt: Path, reference: Path, file: str) -> None:
    hook = {"AutoModelForCausalLM": "evil.EvilModel"}
    edit_json(ckpt / file, lambda c: c.update(nested={"auto_map": hook}))
    report = validate_checkpoint(ckpt, reference)
    hooks = [v for v in report.violations if v.rule == "remote-code"]
    assert len(hooks) == 1 and hooks[0].file == file and "nested.auto_map" in hooks[0].message
    # the changed file is also not the reference's
    assert {v.rule for v in report.violations} == {
        "remote-code",
        "config" if file == "config.json" else "tokenizer",
    }


def test_python_file_is_refused(ckpt: Path, reference: Path) -> None:
    (ckpt / "modeling_evil.py").write_text("import os\n")
    found = only(validate_checkpoint(ckpt, reference), "python-file")
    assert found.file == "modeling_evil.py" and "modeling_evil.py" in found.message


def test_unexpected_file_is_refused(ckpt: Path, reference: Path) -> None:
    (ckpt / "notes.txt").write_text("hi")
    found = only(validate_checkpoint(ckpt, reference), "unexpected-file")
    assert found.file == "notes.txt"


def test_model_card_is_allowed_but_an_extra_tokenizer_file_is_not(
    ckpt: Path, reference: Path
) -> None:
    (ckpt / "README.md").write_text("# my unlearned model\n")
    assert validate_checkpoint(ckpt, reference).ok
    (ckpt / "special_tokens_map.json").write_text('{"eos_token": "<|padding|>"}')
    found = only(validate_checkpoint(ckpt, reference), "unexpected-file")
    assert found.file == "special_tokens_map.json" and "tokenizer" in found.message


def test_single_file_and_index_together_are_ambiguous(ckpt: Path, reference: Path) -> None:
    shutil.copy(ckpt / "model.safetensors", ckpt / "keep.safetensors")
    _shard(ckpt)
    shutil.move(ckpt / "keep.safetensors", ckpt / "model.safetensors")
    report = validate_checkpoint(ckpt, reference)
    assert [v.rule for v in report.violations if v.file == "model.safetensors.index.json"] == [
        "index"
    ]
    assert {v.rule for v in report.violations} == {"index", "unexpected-file"}  # stray shards


def test_changed_tokenizer_is_refused(ckpt: Path, reference: Path) -> None:
    def change(tokenizer):
        vocab = tokenizer["model"]["vocab"]
        first = next(iter(vocab))
        vocab[first + "x"] = vocab.pop(first)

    edit_json(ckpt / "tokenizer.json", change)
    found = only(validate_checkpoint(ckpt, reference), "tokenizer")
    assert found.file == "tokenizer.json" and "model.vocab" in found.message


def test_reserialized_tokenizer_is_accepted(ckpt: Path, reference: Path) -> None:
    from transformers import AutoTokenizer

    for name in ("tokenizer.json", "tokenizer_config.json"):
        (ckpt / name).unlink()
    AutoTokenizer.from_pretrained(reference).save_pretrained(ckpt)
    edit_json(ckpt / "tokenizer.json", lambda _t: None)  # other formatting, same JSON
    assert (ckpt / "tokenizer.json").read_bytes() != (reference / "tokenizer.json").read_bytes()
    report = validate_checkpoint(ckpt, reference)
    assert report.ok, report.violations


def test_missing_tokenizer_file(ckpt: Path, reference: Path) -> None:
    (ckpt / "tokenizer.json").unlink()
    found = only(validate_checkpoint(ckpt, reference), "tokenizer")
    assert found.file == "tokenizer.json" and "missing" in found.message


def test_truncated_safetensors_is_a_violation(ckpt: Path, reference: Path) -> None:
    path = ckpt / "model.safetensors"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    report = validate_checkpoint(ckpt, reference)
    assert rules(report) == ["truncated"]
    assert report.violations[0].file == "model.safetensors"


@pytest.mark.parametrize(
    ("payload", "rule"),
    [
        (b"", "empty"),
        (b"\x05\x00\x00\x00\x00\x00\x00\x00{oops", "not-safetensors"),
        (b"\xff" * 8 + b"{}", "not-safetensors"),
        (b"\x02\x00\x00\x00\x00\x00\x00\x00{}trailing", "not-safetensors"),
    ],
)
def test_garbage_safetensors_is_a_violation(
    ckpt: Path, reference: Path, payload: bytes, rule: str
) -> None:
    (ckpt / "model.safetensors").write_bytes(payload)
    found = only(validate_checkpoint(ckpt, reference), rule)
    assert found.file == "model.safetensors" and "model.safetensors" in found.message


def test_deeply_nested_json_is_a_violation_not_a_crash(ckpt: Path, reference: Path) -> None:
    (ckpt / "config.json").write_text("[" * 100_000 + "]" * 100_000)
    found = only(validate_checkpoint(ckpt, reference), "config")
    assert found.file == "config.json"


def test_fifo_is_refused_without_blocking(ckpt: Path, reference: Path) -> None:
    os.mkfifo(ckpt / "tokenizer.model")
    found = only(validate_checkpoint(ckpt, reference), "unexpected-file")
    assert found.file == "tokenizer.model" and "not a regular file" in found.message


def test_empty_directory(reference: Path, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    found = only(validate_checkpoint(tmp_path / "empty", reference), "empty")
    assert found.file == ""


def test_changed_shape_defining_config_field(ckpt: Path, reference: Path) -> None:
    edit_json(ckpt / "config.json", lambda c: c.update(intermediate_size=128))
    found = only(validate_checkpoint(ckpt, reference), "config")
    assert "intermediate_size" in found.message and "128" in found.message
    assert "64" in found.message


def test_allowed_config_fields_may_differ(ckpt: Path, reference: Path) -> None:
    edit_json(
        ckpt / "config.json",
        lambda c: c.update(transformers_version="9.9.9", use_cache=False, _name_or_path="me"),
    )
    assert validate_checkpoint(ckpt, reference).ok


def test_generation_config_cannot_steer_decoding(ckpt: Path, reference: Path) -> None:
    edit_json(ckpt / "generation_config.json", lambda g: g.update(repetition_penalty=5.0))
    found = only(validate_checkpoint(ckpt, reference), "config")
    assert found.file == "generation_config.json" and "repetition_penalty" in found.message


def test_json_lists_every_violation_with_exit_1(
    ckpt: Path, reference: Path, tmp_path: Path
) -> None:
    rewrite(ckpt / "model.safetensors", lambda t: {**t, EMBED: t[EMBED] * float("nan")})
    edit_json(ckpt / "config.json", lambda c: c.update(auto_map={"AutoModel": "x.Y"}))
    (ckpt / "optimizer.pt").write_bytes(b"whatever")
    (ckpt / "run.py").write_text("print(1)\n")
    (ckpt / "link.json").symlink_to(tmp_path)
    argv = ["validate", str(ckpt), "--reference", str(reference), "--json"]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False
    found = sorted(v["rule"] for v in report["violations"])
    assert found == sorted(
        ["non-finite", "remote-code", "config", "pickle-file", "python-file", "symlink"]
    )
    assert {v["file"] for v in report["violations"]} == {
        "model.safetensors", "config.json", "optimizer.pt", "run.py", "link.json"
    }  # fmt: skip


def test_missing_reference_or_checkpoint_is_exit_2(ckpt: Path, reference: Path, tmp_path: Path):
    runner = CliRunner()
    missing = tmp_path / "nope"
    result = runner.invoke(app, ["validate", str(ckpt), "--reference", str(missing)])
    assert result.exit_code == 2 and "reference" in result.output
    result = runner.invoke(app, ["validate", str(missing), "--reference", str(reference)])
    assert result.exit_code == 2 and "does not exist" in result.output
    with pytest.raises(LumeError):
        validate_checkpoint(ckpt, tmp_path / "nope")


def test_every_rule_id_the_code_emits_is_documented_in_one_place() -> None:
    package = Path(validate.__file__).parent
    sources = "".join(p.read_text() for p in sorted(package.rglob("*.py")))
    literal = r'(?:add|Violation|HeaderError)\(\s*"([a-z-]+)"|load_json\(\w+, "([a-z-]+)"\)'
    emitted = {a or b for a, b in re.findall(literal, sources)}
    assert {"empty", "symlink", "non-finite", "index", "tokenizer"} <= emitted  # the regex works
    documented = set(re.findall(r"``([a-z-]+)``", validate.__doc__))
    assert emitted <= documented, emitted - documented
